using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Domain;

/// <summary>The host's last word on an I/O error no stage wrapped: one line naming the path, exit 3, the exception kept inside.</summary>
public class EnvironmentFailureTests
{
    [Test]
    public void An_io_error_becomes_one_line_naming_the_path_with_exit_3()
    {
        var raw = new DirectoryNotFoundException("Could not find a part of the path '/tmp/x/locks'.");
        var e = (KilnException)EnvironmentFailure.Translate(raw);
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.StartWith("I/O error: Could not find a part of the path '/tmp/x/locks'."));
        Assert.That(e.Message, Does.Not.Contain("\n"));
        Assert.That(e.InnerException, Is.SameAs(raw), "kept for --verbosity=diagnostic");
    }

    [Test]
    public void A_permission_error_says_so()
    {
        var e = (KilnException)EnvironmentFailure.Translate(new UnauthorizedAccessException("Access to the path '/root/x' is denied."));
        Assert.That(e.Message, Does.StartWith("Permission denied: Access to the path '/root/x' is denied."));
    }

    [Test]
    public void A_full_disk_keeps_its_own_message() =>
        Assert.That(EnvironmentFailure.Translate(new IOException("No space left on device : '/tmp/full/f'")).Message, Does.StartWith("No space left on device"));

    [Test]
    public void Kiln_errors_and_bugs_pass_through()
    {
        var kiln = KilnException.BadInput("x");
        var bug = new InvalidOperationException("bug");
        Assert.That(EnvironmentFailure.Translate(kiln), Is.SameAs(kiln));
        Assert.That(EnvironmentFailure.Translate(bug), Is.SameAs(bug), "an internal error keeps its stack trace and exit 70");
    }
}
