using Cake.Frosting;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;

namespace Kiln.Build.Tasks;

[TaskName(KilnTargets.Kselftest)]
[IsDependentOn(typeof(BuildKernel))]
[TaskDescription("Build --kselftest's selftests (their config fragments are in the kernel's config) with make -C tools/testing/selftests install, run them " +
                 "in the guest with run_kselftest.sh and judge each test from its TAP; results in <out>/kselftest/. Exit 1 when a test fails.")]
public sealed class KselftestTask : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var (output, error) = context.Output.CommandStreams;
        var outcome = context.Pipeline.Kselftest(context.Require(context.Built, nameof(BuildKernel)), output, error);
        var result = outcome.Result;
        Reports.Boot(result, context.Output);
        context.Output.Set(CiKeys.ResultsJson, result.ResultsJsonPath);
        context.Output.Set(CiKeys.JUnit, result.JUnitPath);
        context.Output.Set(CiKeys.SerialLog, result.SerialLogPath);
        if (!result.Passed)
            throw KilnException.KernelFailed($"kselftests failed on Linux {result.Release}: " +
                string.Join("; ", result.Failures.Take(10).Select(f => $"{f.Name}: {f.Message}")) + (result.Failures.Count() > 10 ? $"; … {result.Failures.Count() - 10} more" : "") +
                $". Output: {outcome.Session.StandardOutputPath}; results: {result.ResultsJsonPath}");
        context.Output.Info($"PASS: {result.Checks.Count(c => c.Passed) - 1} kselftests passed on Linux {result.Release}" +
                            (result.Checks.Any(c => c.Status == Kiln.Kernel.Boot.CheckStatus.Skipped) ? $", {result.Checks.Count(c => c.Status == Kiln.Kernel.Boot.CheckStatus.Skipped)} skipped" : ""));
    }
}
