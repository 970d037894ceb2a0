using System.Globalization;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Boot;

/// <summary>Everything one boot test needs.</summary>
public sealed record BootTestSpec
{
    /// <summary>bzImage (x86_64) or Image (arm64).</summary>
    public required string KernelPath { get; init; }
    /// <summary>Where serial.log, report.log, results.json and junit.xml go.</summary>
    public required string OutputDirectory { get; init; }
    public Arch Arch { get; init; } = Arch.X86_64;
    /// <summary>The release `uname -r` must print; null reports it without checking.</summary>
    public string? ExpectedRelease { get; init; }
    /// <summary>Lines such as <c>CONFIG_X=y</c> or <c># CONFIG_X is not set</c> to find in /proc/config.gz.</summary>
    public IReadOnlyList<string> ConfigOptions { get; init; } = Array.Empty<string>();
    /// <summary>Strings that must appear in the serial log (e.g. a banner a shipped patch prints).</summary>
    public IReadOnlyList<string> ExpectedMessages { get; init; } = Array.Empty<string>();
    /// <summary>Host paths of scripts run in order in the guest by busybox sh; exit 0 passes.</summary>
    public IReadOnlyList<string> TestScripts { get; init; } = Array.Empty<string>();
    /// <summary>--rwdir: a host directory the test scripts may write ($KILN_RWDIR in the guest).</summary>
    public string? WritableDirectory { get; init; }
    public TimeSpan? Timeout { get; init; }
    public string? ExtraKernelArgs { get; init; }
    public string BusyboxPath { get; init; } = InitramfsSpec.DefaultBusybox;
    /// <summary>The machine, vCPUs and memory; null is the arch's default profile with 2 vCPUs and 2 GiB.</summary>
    public MachineSetup? Machine { get; init; }
    /// <summary>QEMU arguments after Kiln's own, e.g. <c>-global virtio-net-pci.ctrl_vq=off</c> to give a driver a device it refuses.</summary>
    public IReadOnlyList<string> ExtraQemuArguments { get; init; } = [];
    /// <summary>Null picks KVM when usable, else TCG.</summary>
    public Accelerator? Accelerator { get; init; }
    /// <summary>--kunit: KUnit's KTAP on the console is judged, one check per case.</summary>
    public KUnit.KUnitRequest? KUnit { get; init; }
}

/// <summary>How a check ended. Only <see cref="Fail"/> fails a boot; skipped and not-applicable checks are never passes.</summary>
public enum CheckStatus
{
    Pass,
    Fail,
    /// <summary>The host cannot provide what the check needs (virtiofsd, /dev/vhost-vsock); the message says what.</summary>
    Skipped,
    /// <summary>The kernel lacks what the check tests (a driver it was built without).</summary>
    NotApplicable,
}

/// <summary>One verdict check; CI sees each as a test case.</summary>
public sealed record BootCheck(string Name, CheckStatus Status, string Message, TimeSpan Duration, string? Details = null)
{
    public BootCheck(string name, bool passed, string message, TimeSpan duration, string? details = null)
        : this(name, passed ? CheckStatus.Pass : CheckStatus.Fail, message, duration, details)
    {
    }

    public bool Passed => Status == CheckStatus.Pass;
    public bool Failed => Status == CheckStatus.Fail;
}

/// <summary>The verdict of one boot test and where its artifacts are.</summary>
public sealed record BootTestResult
{
    public required BootTestSpec Spec { get; init; }
    public required IReadOnlyList<BootCheck> Checks { get; init; }
    public required MachineSetup Machine { get; init; }
    /// <summary>Requested virtio options no check exercised in this boot: compiled in, not seen working.</summary>
    public IReadOnlyList<string> NotExercised { get; init; } = [];
    public required QemuRunResult Qemu { get; init; }
    public required BootLogAnalysis Log { get; init; }
    public required string Nonce { get; init; }
    public string? Release { get; init; }
    public required string SerialLogPath { get; init; }
    public required string ReportPath { get; init; }
    public required string ResultsJsonPath { get; init; }
    public required string JUnitPath { get; init; }

    /// <summary>No check failed (skipped and not-applicable checks do not fail a boot).</summary>
    public bool Passed => !Checks.Any(c => c.Failed);
    /// <summary>0 when no check failed, 1 when a check failed or the guest timed out.</summary>
    public int ExitCode => Passed ? ExitCodes.Success : ExitCodes.KernelFailed;
    public IEnumerable<BootCheck> Failures => Checks.Where(c => c.Failed);
}

/// <summary>
/// Runs one boot test: builds the initramfs, boots it in QEMU, and judges the boot from the serial
/// log and the guest's nonce-tagged report. A failed check is a result (exit code 1); QEMU not
/// starting is a <see cref="KilnException"/> with exit code 3, and bad input one with exit code 2.
/// </summary>
public sealed class BootTester
{
    public const string SerialLogName = "serial.log";
    public const string ReportName = "report.log";
    public const string InitramfsName = "initramfs.cpio.gz";
    public const string ResultsJsonName = "results.json";
    public const string JUnitName = "junit.xml";
    /// <summary>The check that every option Kiln's fragments request is in /proc/config.gz.</summary>
    public const string ConfigOptionsCheck = "config-options";
    /// <summary>Under the output directory: the disk image and shared directories of the devices.</summary>
    public const string DevicesDirectory = "devices";
    private const string TestCheckPrefix = "test:";

    private readonly IKilnLog _log;
    private readonly QemuRunner _qemu;

    public BootTester(IKilnLog log, QemuRunner? qemu = null)
    {
        _log = log;
        _qemu = qemu ?? new QemuRunner(log);
    }

    public BootTestResult Run(BootTestSpec spec, CancellationToken cancellation = default) =>
        RunAsync(spec, cancellation).GetAwaiter().GetResult();

    public async Task<BootTestResult> RunAsync(BootTestSpec spec, CancellationToken cancellation = default)
    {
        if (!File.Exists(spec.KernelPath)) throw KilnException.BadInput($"Kernel image not found: {spec.KernelPath}");
        // Parse before booting so a typo fails in a second rather than after a boot.
        var requirements = spec.ConfigOptions.Select(ConfigRequirement.Parse).ToList();
        var machine = spec.Machine ?? MachineSetup.Default(spec.Arch);
        if (machine.Profile.Arch != spec.Arch)
            throw KilnException.BadInput($"--machine={machine.Profile.Name} is a {machine.Profile.Arch.Name} machine; for {spec.Arch.Name} use " +
                                         string.Join(", ", MachineProfile.For(spec.Arch).Select(p => p.Name)) + ".");
        machine.RequireHostMemory();

        var output = Path.GetFullPath(spec.OutputDirectory);
        Directory.CreateDirectory(output);
        var serialPath = Path.Combine(output, SerialLogName);
        var reportPath = Path.Combine(output, ReportName);
        var initramfsPath = Path.Combine(output, InitramfsName);

        var nonce = GuestReport.NewNonce();
        // Test scripts may run the host's programs (chroot "$KILN_HOST" CMD) when the guest can run them: same arch.
        var hostRoot = spec.TestScripts.Count > 0 && spec.Arch.IsHost;
        var rwdir = spec.WritableDirectory is { } dir && spec.TestScripts.Count > 0 ? Path.GetFullPath(dir) : null;
        if (rwdir is not null) Directory.CreateDirectory(rwdir);
        QemuRunResult run;
        HostObservations host;
        IReadOnlyList<GuestTest> tests;
        using (var devices = AttachedDevices.Prepare(machine.Profile, Path.Combine(output, DevicesDirectory), _log))
        {
            tests = new InitramfsBuilder(_log).Build(
                new InitramfsSpec
                {
                    Arch = spec.Arch, Nonce = nonce, BusyboxPath = spec.BusyboxPath, TestScripts = spec.TestScripts,
                    Devices = devices.Attached, TransportOptions = machine.Profile.TransportOptions, HostRoot = hostRoot,
                    WritableDirectory = rwdir,
                },
                initramfsPath);

            run = await _qemu.RunAsync(new QemuSpec
            {
                Arch = spec.Arch,
                KernelPath = Path.GetFullPath(spec.KernelPath),
                InitrdPath = initramfsPath,
                ReportPath = reportPath,
                ExtraKernelArgs = string.Join(' ', new[] { spec.KUnit?.KernelArgument, spec.ExtraKernelArgs }.Where(a => !string.IsNullOrWhiteSpace(a))),
                Machine = machine,
                Devices = devices,
                ExtraQemuArguments =
                [
                    .. hostRoot ? HostShares.QemuArguments(machine.Profile, HostShares.RootTag, "/", readOnly: true) : [],
                    .. rwdir is not null ? HostShares.QemuArguments(machine.Profile, HostShares.WorkTag, rwdir, readOnly: false) : [],
                    .. spec.ExtraQemuArguments,
                ],
                Timeout = spec.Timeout,
                Accelerator = spec.Accelerator,
            }, serialPath, cancellation);
            host = devices.Observe();
        }

        var report = GuestReport.ParseFile(reportPath, nonce);
        var serialLines = File.ReadAllLines(serialPath);
        var analysis = BootLogAnalyzer.Analyze(serialLines);
        var config = report.DecodeConfig() is { } text ? ConfigOptionCheck.Values(text) : null;
        var checks = Judge(spec, requirements, tests, run, report, analysis, serialLines, DeviceChecks.Judge(machine, report, config, host));
        var notExercised = DeviceChecks.NotExercised(requirements.Where(r => r.Value == "y").Select(r => r.Name), checks, machine.Profile);

        var result = new BootTestResult
        {
            Spec = spec,
            Machine = machine,
            NotExercised = notExercised,
            Checks = checks,
            Qemu = run,
            Log = analysis,
            Nonce = nonce,
            Release = report.Release,
            SerialLogPath = serialPath,
            ReportPath = reportPath,
            ResultsJsonPath = Path.Combine(output, ResultsJsonName),
            JUnitPath = Path.Combine(output, JUnitName),
        };
        WriteReport(result.ResultsJsonPath, () => BootResultWriter.WriteJson(result, result.ResultsJsonPath));
        WriteReport(result.JUnitPath, () => BootResultWriter.WriteJUnit(result, result.JUnitPath));

        foreach (var check in checks)
        {
            if (check.Failed) _log.Warning($"FAIL {check.Name}: {check.Message}");
            else _log.Verbose($"{check.Status.ToString().ToUpperInvariant()} {check.Name}: {check.Message}");
        }
        var notPassed = checks.Count(c => c.Status is CheckStatus.Skipped or CheckStatus.NotApplicable);
        _log.Info($"Boot test {(result.Passed ? "passed" : "FAILED")}: {checks.Count(c => c.Passed)}/{checks.Count} checks passed" +
                  (notPassed > 0 ? $", {notPassed} skipped or not applicable" : "") + $"; results in {output}");
        return result;
    }

    /// <summary>
    /// A report file that cannot be written (a full disk, or guest output a writer still chokes on) is a warning:
    /// the verdict is already made, and losing a copy of it must not turn a kernel's pass or fail into exit 3.
    /// </summary>
    private void WriteReport(string path, Action write)
    {
        try
        {
            write();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _log.Warning($"Could not write {path}: {e.Message} The verdict below stands without it.");
        }
    }

    internal static IReadOnlyList<BootCheck> Judge(
        BootTestSpec spec,
        IReadOnlyList<ConfigRequirement> requirements,
        IReadOnlyList<GuestTest> tests,
        QemuRunResult run,
        GuestReport report,
        BootLogAnalysis analysis,
        IReadOnlyList<string> serialLines,
        IReadOnlyList<BootCheck> machineChecks)
    {
        var tail = string.Join('\n', run.SerialTail);
        var checks = new List<BootCheck>
        {
            QemuExit(run, report, tail),
            GuestReported(report, run, tail),
            Uname(spec.ExpectedRelease, report),
            NoKernelErrors(analysis),
            ConfigOptions(requirements, report),
            BootMessages(spec.ExpectedMessages, serialLines),
        };
        // In the order the guest ran them: KUnit's suites (before init), the machine's checks, then the user's tests.
        if (spec.KUnit is { } kunit) checks.AddRange(kunit.Judge(KUnit.Ktap.Parse(serialLines)));
        checks.AddRange(machineChecks);
        foreach (var test in tests)
        {
            var reported = report.Tests.FirstOrDefault(t => t.Name == test.Name);
            if (report.IsTestDisputed(test.Name))
            {
                checks.Add(new BootCheck(TestCheckPrefix + test.Name, false,
                    "its result was reported more than once on the report device, so none is trusted (see guest-report)", TimeSpan.Zero));
                continue;
            }
            checks.Add(reported is null
                ? new BootCheck(TestCheckPrefix + test.Name, false,
                    report.LastBegunTest != test.Name ? "not run"
                    : run.GuestHalt is { } halt ? $"started but never finished: the guest powered off or halted while it ran ({halt})"
                    : "started but never finished (guest hung, died or rebooted in it)",
                    TimeSpan.Zero)
                : new BootCheck(TestCheckPrefix + test.Name, reported.ExitCode == 0,
                    $"exit code {reported.ExitCode} after {Seconds(reported.Seconds)} s", TimeSpan.FromSeconds(reported.Seconds)));
        }
        return checks;
    }

    private static BootCheck QemuExit(QemuRunResult run, GuestReport report, string tail)
    {
        const string name = "qemu-exit";
        if (run.TimedOut)
        {
            var where = report.LastBegunTest is { } test && report.Tests.All(t => t.Name != test) ? $" while running test {test}" : "";
            return new BootCheck(name, false,
                $"timed out after {Seconds(run.Timeout.TotalSeconds)} s{where}; QEMU was killed", run.Duration, "Last console lines:\n" + tail);
        }
        // Init never powers off (it ends with reboot -f), so a halt is judged by the checks that lost their report.
        if (run.GuestHalt is { } halt && run.ExitCode is null)
            return new BootCheck(name, true, $"the guest halted ({halt}) after {Seconds(run.Duration.TotalSeconds)} s; QEMU was stopped", run.Duration);
        return run.ExitCode == 0
            ? new BootCheck(name, true, $"QEMU exited by itself after {Seconds(run.Duration.TotalSeconds)} s ({run.Accelerator.ToString().ToUpperInvariant()})", run.Duration)
            : new BootCheck(name, false, $"QEMU exited with status {run.ExitCode}", run.Duration, "Last console lines:\n" + tail);
    }

    private static BootCheck GuestReported(GuestReport report, QemuRunResult run, string tail)
    {
        const string name = "guest-report";
        if (report.Problems.Count > 0)
            return new BootCheck(name, false,
                $"the report device carried a line that is not init's own, or a second line for one result: {report.Problems[0]}" +
                (report.Problems.Count > 1 ? $" (and {report.Problems.Count - 1} more)" : ""),
                TimeSpan.Zero, string.Join('\n', report.Problems.Take(20)));
        if (report.Done) return new BootCheck(name, true, "init reported completion with this run's nonce", TimeSpan.Zero);
        var message = !report.Started ? "no report from init: the kernel did not reach userspace or could not open the report device"
            : run.GuestHalt is { } halt ? $"init started but never reported completion: the guest powered off or halted first ({halt})"
            : "init started but never reported completion (it died, hung, or the guest rebooted early)";
        return new BootCheck(name, false, message, TimeSpan.Zero, "Last console lines:\n" + tail);
    }

    private static BootCheck Uname(string? expected, GuestReport report)
    {
        const string name = "uname";
        if (report.Release is null) return new BootCheck(name, false, "the guest did not report uname -r", TimeSpan.Zero);
        if (expected is null) return new BootCheck(name, true, $"release {report.Release} (no expected release given)", TimeSpan.Zero);
        return report.Release == expected
            ? new BootCheck(name, true, $"release {report.Release}", TimeSpan.Zero)
            : new BootCheck(name, false, $"expected release {expected}, the guest runs {report.Release}", TimeSpan.Zero);
    }

    private static BootCheck NoKernelErrors(BootLogAnalysis analysis)
    {
        const string name = "no-kernel-errors";
        if (analysis.FirstError is not { } first)
            return new BootCheck(name, true, "no panic, Oops, BUG, WARNING or Call Trace in the serial log", TimeSpan.Zero);
        var details = string.Join('\n', analysis.Errors.Take(20).Select(e => $"{SerialLogName}:{e.LineNumber}: {e.Line}"));
        return new BootCheck(name, false,
            $"{first.Kind} at {SerialLogName}:{first.LineNumber}: {first.Line.Trim()}" +
            (analysis.Errors.Count > 1 ? $" (and {analysis.Errors.Count - 1} more)" : ""), TimeSpan.Zero, details);
    }

    private static BootCheck ConfigOptions(IReadOnlyList<ConfigRequirement> requirements, GuestReport report)
    {
        const string name = ConfigOptionsCheck;
        if (requirements.Count == 0) return new BootCheck(name, true, "no options requested", TimeSpan.Zero);
        if (report.ConfigMissing)
            return new BootCheck(name, false, "the kernel has no /proc/config.gz: enable CONFIG_IKCONFIG and CONFIG_IKCONFIG_PROC to check options", TimeSpan.Zero);
        if (report.DecodeConfig() is not { } config)
            return new BootCheck(name, false, "the guest did not report a complete /proc/config.gz", TimeSpan.Zero);
        var mismatches = ConfigOptionCheck.Mismatches(config, requirements);
        return mismatches.Count == 0
            ? new BootCheck(name, true, $"all {requirements.Count} requested options as requested", TimeSpan.Zero)
            : new BootCheck(name, false, string.Join("; ", mismatches), TimeSpan.Zero);
    }

    private static BootCheck BootMessages(IReadOnlyList<string> expected, IReadOnlyList<string> serialLines)
    {
        const string name = "boot-messages";
        if (expected.Count == 0) return new BootCheck(name, true, "no messages requested", TimeSpan.Zero);
        var missing = expected.Where(m => !serialLines.Any(l => l.Contains(m, StringComparison.Ordinal))).ToList();
        return missing.Count == 0
            ? new BootCheck(name, true, $"all {expected.Count} expected messages seen", TimeSpan.Zero)
            : new BootCheck(name, false, "not in the serial log: " + string.Join(", ", missing.Select(m => $"\"{m}\"")), TimeSpan.Zero);
    }

    private static string Seconds(double seconds) => seconds.ToString("0.0", CultureInfo.InvariantCulture);
}
