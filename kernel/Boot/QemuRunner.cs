using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Boot;

public enum Accelerator
{
    Tcg,
    Kvm,
}

/// <summary>One QEMU boot of a kernel with an initramfs.</summary>
public sealed record QemuSpec
{
    public required Arch Arch { get; init; }
    public required string KernelPath { get; init; }
    public required string InitrdPath { get; init; }
    /// <summary>Host file that receives the guest's report device.</summary>
    public required string ReportPath { get; init; }
    /// <summary>Appended to the kernel command line after Kiln's own arguments.</summary>
    public string? ExtraKernelArgs { get; init; }
    /// <summary>The machine, vCPUs and memory; null is the arch's default profile with 2 vCPUs and 2 GiB.</summary>
    public MachineSetup? Machine { get; init; }
    /// <summary>The devices <see cref="AttachedDevices"/> prepared; null attaches none (and no network).</summary>
    public AttachedDevices? Devices { get; init; }
    /// <summary>Appended after every argument Kiln builds.</summary>
    public IReadOnlyList<string> ExtraQemuArguments { get; init; } = [];
    /// <summary>Null picks the default for the accelerator (<see cref="QemuRunner.DefaultTimeout"/>).</summary>
    public TimeSpan? Timeout { get; init; }
    /// <summary>Null picks KVM when /dev/kvm is usable, else TCG.</summary>
    public Accelerator? Accelerator { get; init; }
    /// <summary>
    /// The console is the user's terminal (stdin too; Ctrl-A X quits QEMU, Ctrl-C reaches the guest) and QEMU itself writes
    /// the serial log; nothing watches the console, so a halt is seen only when QEMU exits.
    /// </summary>
    public bool Interactive { get; init; }
    /// <summary>Start the guest halted with QEMU's gdb stub listening on this local port.</summary>
    public int? GdbPort { get; init; }
}

/// <summary>How a QEMU run ended.</summary>
public sealed record QemuRunResult(
    string CommandLine,
    Accelerator Accelerator,
    TimeSpan Timeout,
    bool TimedOut,
    int? ExitCode,
    TimeSpan Duration,
    string SerialLogPath,
    IReadOnlyList<string> SerialTail)
{
    /// <summary>
    /// The kernel's last words when the guest powered off or halted (<c>reboot: Power down</c>): QEMU then exits by
    /// itself or, where nothing turns the machine off (microvm has no ACPI), is stopped at once. Null otherwise.
    /// </summary>
    public string? GuestHalt { get; init; }

    /// <summary>QEMU ended by itself with status 0: the guest rebooted (or panicked with panic=-1).</summary>
    public bool ExitedCleanly => !TimedOut && ExitCode == 0;
}

/// <summary>
/// Runs QEMU for a boot test: builds the command line, streams the guest console into a serial
/// log as it arrives, and kills QEMU when the timeout passes.
/// </summary>
public sealed partial class QemuRunner
{
    public const int TailLines = 40;
    /// <summary>How long QEMU gets to exit by itself after the guest powered off or halted, before it is stopped.</summary>
    public static readonly TimeSpan HaltGrace = TimeSpan.FromSeconds(2);
    private const string KvmDevice = "/dev/kvm";
    private const string CpuInfo = "/proc/cpuinfo";

    private readonly IKilnLog _log;
    private readonly Func<Arch, bool> _kvmUsable;

    /// <param name="kvmUsable">Overrides KVM detection (tests); defaults to <see cref="KvmUsable"/>.</param>
    public QemuRunner(IKilnLog log, Func<Arch, bool>? kvmUsable = null)
    {
        _log = log;
        _kvmUsable = kvmUsable ?? KvmUsable;
    }

    /// <summary>
    /// KVM is usable when the guest has the host's architecture, /dev/kvm opens read-write (it exists but
    /// is denied in many containers), and on x86 the CPU shows hardware virtualisation (vmx/svm).
    /// The last rule matters in nested VMs: PVM (kvm_pvm) provides a working /dev/kvm that can only run
    /// PVM-enabled guest kernels, and an ordinary kernel hangs there without a single line of output.
    /// </summary>
    public static bool KvmUsable(Arch guest)
    {
        var host = RuntimeInformation.OSArchitecture;
        if (!guest.IsHost) return false;
        try
        {
            using (new FileStream(KvmDevice, FileMode.Open, FileAccess.ReadWrite)) { }
            return host != Architecture.X64 || HasHardwareVirtualisation(File.ReadLines(CpuInfo));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    internal static bool HasHardwareVirtualisation(IEnumerable<string> cpuinfo) =>
        cpuinfo.Where(l => l.StartsWith("flags", StringComparison.Ordinal))
            .Any(l => l.Split(' ', '\t').Any(f => f is "vmx" or "svm"));

    /// <summary>What the kernel prints as it powers off (poweroff -f) or halts (halt -f, or poweroff with no way to).</summary>
    [GeneratedRegex(@"\breboot: (Power down|System halted)\s*$")]
    internal static partial Regex GuestHaltLine();

    /// <summary>TCG emulates every instruction, so it gets twice KVM's time.</summary>
    public static TimeSpan DefaultTimeout(Accelerator accelerator) =>
        accelerator == Accelerator.Kvm ? TimeSpan.FromSeconds(60) : TimeSpan.FromSeconds(120);

    public Accelerator ChooseAccelerator(QemuSpec spec) =>
        spec.Accelerator ?? (_kvmUsable(spec.Arch) ? Accelerator.Kvm : Accelerator.Tcg);

    /// <summary>The QEMU command for <paramref name="spec"/>; the console goes to QEMU's stdout.</summary>
    /// <summary>A path inside a QEMU option list (-drive, -fsdev, -chardev): commas separate options, so a comma in it is doubled.</summary>
    public static string EscapeOption(string path) => path.Replace(",", ",,");

    /// <param name="serialLogPath">Where QEMU logs an interactive console (<see cref="QemuSpec.Interactive"/>).</param>
    public Command BuildCommand(QemuSpec spec, Accelerator accelerator, Action<string>? onConsoleLine = null, string? serialLogPath = null)
    {
        var arch = spec.Arch;
        var (profile, smp, memory) = spec.Machine ?? MachineSetup.Default(arch);
        var append = string.Join(' ', new[] { $"console={arch.ConsoleDevice} panic=-1", profile.KernelArguments, spec.ExtraKernelArgs?.Trim() }
            .Where(a => !string.IsNullOrEmpty(a)));
        var devices = spec.Devices;
        var machine = profile.Machine + (devices?.SharesMemory == true ? ",memory-backend=" + AttachedDevices.SharedMemoryId : "");

        var args = new List<string> { "-M", machine };
        args.AddRange(profile.ExtraArguments);
        args.AddRange(
        [
            "-accel", accelerator == Accelerator.Kvm ? "kvm" : "tcg",
            "-smp", smp.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-m", memory.ToString(),
            // -no-reboot turns the guest's final "reboot -f" (and panic=-1) into QEMU exiting.
            "-no-reboot", "-display", "none", "-monitor", "none",
            "-kernel", spec.KernelPath,
            "-initrd", spec.InitrdPath,
            "-append", append,
        ]);
        // The console serial port comes first so it is the guest's first UART.
        args.AddRange(spec.Interactive
            ? ["-chardev", $"stdio,id=kilncon,mux=on,signal=off,logfile={EscapeOption(serialLogPath ?? throw new ArgumentNullException(nameof(serialLogPath)))}", "-serial", "chardev:kilncon"]
            : ["-serial", "stdio"]);
        args.AddRange(profile.ReportDeviceArguments(spec.ReportPath));
        if (devices is null || !devices.Attached.Contains(GuestDevice.Net)) args.AddRange(["-nic", "none"]);
        if (devices is not null)
        {
            args.AddRange(devices.MemoryArguments(memory));
            args.AddRange(devices.QemuArguments);
        }
        if (spec.GdbPort is { } port) args.AddRange(["-gdb", $"tcp:127.0.0.1:{port}", "-S"]);
        args.AddRange(spec.ExtraQemuArguments);

        return new Command(arch.QemuBinary, args.ToArray())
        {
            Purpose = "QEMU boot",
            CaptureOutput = false,
            // An empty, closed stdin keeps QEMU from taking over the user's terminal, unless the terminal is the console.
            StandardInput = spec.Interactive ? null : "",
            InheritConsole = spec.Interactive,
            OnOutput = onConsoleLine,
        };
    }

    /// <summary>
    /// Boots and waits for QEMU to exit or the timeout to pass. Throws a KilnException with exit code 3
    /// when QEMU is missing or fails before the guest printed anything (bad kernel image, bad option).
    /// </summary>
    public async Task<QemuRunResult> RunAsync(QemuSpec spec, string serialLogPath, CancellationToken cancellation = default)
    {
        var accelerator = ChooseAccelerator(spec);
        var timeout = spec.Timeout ?? DefaultTimeout(accelerator);
        RequireOnPath(spec.Arch);
        File.Delete(spec.ReportPath);

        var tail = new Queue<string>();
        var consoleLines = 0;
        var serialClosed = false;
        string? halt = null;
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        File.Delete(serialLogPath);
        // An interactive console is logged by QEMU itself (the terminal has it); otherwise every line passes through here.
        await using var serial = spec.Interactive ? null : new StreamWriter(serialLogPath, append: false) { AutoFlush = true };
        void OnConsole(string line)
        {
            lock (tail)
            {
                // After a timeout the reader may still deliver a line while the log is closing.
                if (!serialClosed) serial!.WriteLine(line);
                tail.Enqueue(line);
                if (tail.Count > TailLines) tail.Dequeue();
                consoleLines++;
                // A halted guest never comes back, and a powered-off one without ACPI (microvm) stays in QEMU: rather
                // than wait for the timeout, give QEMU a moment to exit by itself and then stop it.
                if (halt is null && !serialClosed && GuestHaltLine().IsMatch(line))
                {
                    halt = line.Trim();
                    timer.CancelAfter(HaltGrace);
                }
            }
        }

        var command = BuildCommand(spec, accelerator, OnConsole, serialLogPath);
        _log.Info($"Booting {Path.GetFileName(spec.KernelPath)} ({spec.Arch.Name}, {spec.Machine ?? MachineSetup.Default(spec.Arch)}, " +
                  $"{accelerator.ToString().ToUpperInvariant()}, " +
                  (timeout == Timeout.InfiniteTimeSpan ? "no timeout" : $"timeout {timeout.TotalSeconds:0} s") + ")");
        timer.CancelAfter(timeout);
        var watch = Stopwatch.StartNew();
        int? exitCode;
        var timedOut = false;
        try
        {
            exitCode = (await command.RunAsync(_log, timer.Token)).ExitCode;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            lock (tail) timedOut = halt is null;
            exitCode = null;
        }
        catch (CommandFailedException e)
        {
            if (consoleLines == 0 && !(spec.Interactive && File.Exists(serialLogPath) && new FileInfo(serialLogPath).Length > 0))
            {
                // Asked only now, to keep three QEMU start-ups (0.3-0.5 s here) off every boot: a machine or device this QEMU
                // lacks is named with the QEMU version.
                var profile = (spec.Machine ?? MachineSetup.Default(spec.Arch)).Profile;
                QemuCapabilities.Of(spec.Arch.QemuBinary, _log).Require(profile,
                    profile.ReportQemuDevices.Concat(spec.Devices?.Attached.Select(profile.QemuDevice) ?? []));
                throw KilnException.Infrastructure(
                    $"QEMU could not start the guest (exit code {e.Result.ExitCode}): {command.CommandLine}" +
                    (e.StandardErrorTail.Length > 0 ? Environment.NewLine + e.StandardErrorTail : ""), e);
            }
            exitCode = e.Result.ExitCode;
        }
        watch.Stop();

        string[] tailLines;
        lock (tail)
        {
            tailLines = spec.Interactive && File.Exists(serialLogPath) ? File.ReadLines(serialLogPath).TakeLast(TailLines).ToArray() : tail.ToArray();
            serial?.Close();
            serialClosed = true;
        }
        var result = new QemuRunResult(command.CommandLine, accelerator, timeout, timedOut, exitCode, watch.Elapsed, serialLogPath, tailLines)
        {
            GuestHalt = halt,
        };
        if (halt is not null && exitCode is null)
            _log.Warning($"The guest halted ({halt}) and QEMU did not exit by itself; it was stopped after {watch.Elapsed.TotalSeconds:0.0} s");
        else if (timedOut)
            _log.Warning($"QEMU timed out after {timeout.TotalSeconds:0} s and was killed. Last console lines:{Environment.NewLine}" +
                         string.Join(Environment.NewLine, tailLines));
        else
            _log.Verbose($"QEMU exited with {exitCode} after {watch.Elapsed.TotalSeconds:0.0} s");
        return result;
    }

    private static void RequireOnPath(Arch arch)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, arch.QemuBinary)));
        if (!found)
            throw KilnException.Infrastructure(
                $"{arch.QemuBinary} is not installed or not on PATH; install the Debian package {arch.QemuDebianPackage} (apt-get install {arch.QemuDebianPackage}).");
    }
}
