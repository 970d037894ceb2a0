using Cake.Frosting;
using Kiln.Kernel.Diagnostics;
using Spectre.Console;

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
        var table = new Table().AddColumn("Check").AddColumn("Result").AddColumn(new TableColumn("Time").RightAligned()).AddColumn("Detail");
        foreach (var check in result.Checks)
            table.AddRow(Markup.Escape(check.Name), check.Passed ? "[green]pass[/]" : "[red]FAIL[/]",
                $"{check.Duration.TotalSeconds:F1} s", Markup.Escape(check.Message));
        context.Output.Write(table);
        var bootTime = result.Log.SecondsToInit is { } init ? $"; kernel reached init {init:F2} s after start (printk time)" : "";
        context.Output.Info($"Results: {result.ResultsJsonPath}, {result.JUnitPath}, serial log {result.SerialLogPath}{bootTime}");

        context.Output.Set(CiKeys.BootResult, result.Passed ? "pass" : "fail");
        context.Output.Set(CiKeys.ResultsJson, result.ResultsJsonPath);
        context.Output.Set(CiKeys.JUnit, result.JUnitPath);
        context.Output.Set(CiKeys.SerialLog, result.SerialLogPath);
        if (!result.Passed)
            throw KilnException.KernelFailed($"Boot test of Linux {booted.Built.Kernel.Metadata.Release} failed: " +
                string.Join("; ", result.Failures.Select(f => $"{f.Name}: {f.Message}")) + $". Serial log: {result.SerialLogPath}");
        context.Output.Info($"PASS: Linux {result.Release} booted and passed {result.Checks.Count} checks");
        if (context.Pipeline.Share(booted) is { } pushed) context.Output.Set(CiKeys.Pushed, pushed ? "true" : "false");
    }
}
