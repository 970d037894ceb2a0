using Cake.Frosting;
using Kiln.Build.Hosting;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Host;

/// <summary>The host tells a bug in Kiln (internal error, exit 70, stack trace) from the environment's faults (exit 3).</summary>
[NonParallelizable]
public class InternalErrorTests
{
    [TaskName("Buggy")]
    public sealed class BuggyTask : FrostingTask<FrostingContext>
    {
        public override void Run(FrostingContext context) => throw new InvalidOperationException("a bug: Setup did not run");
    }

    [TaskName("DiskGone")]
    public sealed class DiskGoneTask : FrostingTask<FrostingContext>
    {
        public override void Run(FrostingContext context) => throw new IOException("Input/output error");
    }

    [TaskName("KernelBroke")]
    public sealed class KernelBrokeTask : FrostingTask<FrostingContext>
    {
        public override void Run(FrostingContext context) => throw KilnException.KernelFailed("boot check failed");
    }

    private static (int Code, string StdErr) Run(string target)
    {
        var error = new StringWriter();
        var code = new KilnHost().AddAssembly(typeof(InternalErrorTests).Assembly)
            .UseConsole(new KilnConsole(new StringWriter(), error, color: false, redirected: true))
            .UseExitCodes(ExitCodes.For, e => e is KilnException, ExitCodes.InternalError)
            .Run(new[] { "--target=" + target });
        return (code, error.ToString());
    }

    [Test]
    public void An_unexpected_exception_is_an_internal_error_with_its_stack_trace()
    {
        var (code, stderr) = Run("Buggy");
        Assert.That(code, Is.EqualTo(ExitCodes.InternalError));
        Assert.That(stderr, Does.Contain("Internal error (exit 70)").And.Contain("a bug: Setup did not run").And.Contain("   at "));
    }

    [Test]
    public void An_io_failure_is_infrastructure()
    {
        var (code, stderr) = Run("DiskGone");
        Assert.That(code, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(stderr, Does.Not.Contain("Internal error"));
    }

    [Test]
    public void A_kiln_exception_keeps_its_code_and_shows_no_stack_trace()
    {
        var (code, stderr) = Run("KernelBroke");
        Assert.That(code, Is.EqualTo(ExitCodes.KernelFailed));
        Assert.That(stderr, Does.Contain("boot check failed").And.Not.Contain("   at "));
    }
}
