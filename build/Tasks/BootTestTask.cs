using Cake.Frosting;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Build.Tasks;

[TaskName(nameof(BootTest))]
[IsDependentOn(typeof(BuildKernel))]
[TaskDescription("Boot the kernel in QEMU with a generated initramfs and judge it: release, kernel errors, config, patches, --test scripts.")]
public sealed class BootTest : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var booted = context.Booted = context.Pipeline.Boot(context.Require(context.Built, nameof(BuildKernel)));
        var result = booted.Result;
        Reports.Boot(result, context.Output);

        context.Output.Set(CiKeys.BootResult, result.Passed ? "pass" : "fail");
        context.Output.Set(CiKeys.ResultsJson, result.ResultsJsonPath);
        context.Output.Set(CiKeys.JUnit, result.JUnitPath);
        context.Output.Set(CiKeys.SerialLog, result.SerialLogPath);
        if (!result.Passed)
            throw KilnException.KernelFailed($"Boot test of Linux {booted.Built.Kernel.Metadata.Release} failed: " +
                string.Join("; ", result.Failures.Select(f => $"{f.Name}: {f.Message}")) + $". Serial log: {result.SerialLogPath}");
        var notRun = result.Checks.Count(c => c.Status is CheckStatus.Skipped or CheckStatus.NotApplicable);
        context.Output.Info($"PASS: Linux {result.Release} booted and passed {result.Checks.Count(c => c.Passed)} checks" +
                            (notRun > 0 ? $" ({notRun} skipped or not applicable, none failed)" : ""));
        if (context.Pipeline.Share(booted) is { } pushed) context.Output.Set(CiKeys.Pushed, pushed ? "true" : "false");
    }
}
