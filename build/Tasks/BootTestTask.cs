using Cake.Frosting;
using Kiln.Kernel.Boot;
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
        var kernel = context.Require(context.Kernel, nameof(BuildKernel));
        var spec = new BootTestSpec
        {
            KernelPath = kernel.File(context.Toolchain.ImageName),
            OutputDirectory = Path.Combine(context.OutDir, "boot"),
            Arch = ArchProfile.Parse(context.Arch),
            ExpectedRelease = kernel.Metadata.Release,
            ConfigOptions = context.RequestedOptions().Select(o => o.Display).ToList(),
            ExpectedMessages = context.Patches.BootExpectations,
            TestScripts = context.Tests,
            Timeout = context.TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
            ExtraKernelArgs = context.Append.Length > 0 ? context.Append : null,
            BusyboxPath = context.GuestBusybox,
        };
        context.Log.Info($"Booting Linux {kernel.Metadata.Release} in QEMU ({spec.Arch.QemuBinary})");
        var result = new BootTester(context.Log).Run(spec);

        var table = new Table().AddColumn("Check").AddColumn("Result").AddColumn(new TableColumn("Time").RightAligned()).AddColumn("Detail");
        foreach (var check in result.Checks)
            table.AddRow(Markup.Escape(check.Name), check.Passed ? "[green]pass[/]" : "[red]FAIL[/]",
                $"{check.Duration.TotalSeconds:F1} s", Markup.Escape(check.Message));
        AnsiConsole.Write(table);
        var bootTime = result.Log.SecondsToInit is { } init ? $"; kernel reached init {init:F2} s after start (printk time)" : "";
        context.Log.Info($"Results: {result.ResultsJsonPath}, {result.JUnitPath}, serial log {result.SerialLogPath}{bootTime}");

        context.CiOutput.Set(CiKeys.BootResult, result.Passed ? "pass" : "fail");
        context.CiOutput.Set(CiKeys.ResultsJson, result.ResultsJsonPath);
        context.CiOutput.Set(CiKeys.JUnit, result.JUnitPath);
        context.CiOutput.Set(CiKeys.SerialLog, result.SerialLogPath);

        if (!result.Passed)
            throw KilnException.KernelFailed(
                $"Boot test of Linux {kernel.Metadata.Release} failed: " +
                string.Join("; ", result.Failures.Select(f => $"{f.Name}: {f.Message}")) + $". Serial log: {result.SerialLogPath}");
        context.Log.Info($"PASS: Linux {result.Release} booted and passed {result.Checks.Count} checks");

        // Only a kernel that built and booted is shared; one pulled in this run is there already, and a local
        // tree's build is not named by its identity (the tree changes in place), so it is never shared.
        if (context.RemoteCache is { } remote && !context.PulledFromRemote && context.Source?.Provenance.IsLocalTree != true)
            context.CiOutput.Set(CiKeys.Pushed, remote.Push(kernel, context.Require(context.Identity, nameof(Setup))) ? "true" : "false");
    }
}
