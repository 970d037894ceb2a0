using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;

namespace Kiln.Kernel.Run;

/// <summary>What one Run or Shell session boots and runs.</summary>
public sealed record GuestSessionSpec
{
    public required string KernelPath { get; init; }
    public required Arch Arch { get; init; }
    public required MachineSetup Machine { get; init; }
    public required string BusyboxPath { get; init; }
    /// <summary>The command line the guest runs with sh -c; null opens an interactive shell on the console.</summary>
    public string? Command { get; init; }
    /// <summary>The host directory shared read-write at the same path in the guest, where the command starts.</summary>
    public required string WorkingDirectory { get; init; }
    /// <summary>Where serial.log, report.log, the initramfs and the command's captured output go.</summary>
    public required string OutputDirectory { get; init; }
    public string? ExtraKernelArgs { get; init; }
    /// <summary>Null waits as long as the command runs.</summary>
    public TimeSpan? Timeout { get; init; }
    /// <summary>Start halted with QEMU's gdb stub on this local port.</summary>
    public int? GdbPort { get; init; }
    /// <summary>The host terminal's rows and columns, given to the guest's console (Shell).</summary>
    public (int Rows, int Columns)? TerminalSize { get; init; }
    /// <summary>The host's TERM, for the guest's shell (Shell).</summary>
    public string? Terminal { get; init; }
    public Accelerator? Accelerator { get; init; }
}

/// <summary>How a session ended: the command's exit status, or why there is none.</summary>
/// <param name="ExitCode">The command's (or the shell's) exit status as the guest reported it; null when it never reported one.</param>
/// <param name="Failure">Why there is no exit status (a panic, a timeout, a guest that never reached its command); null when there is one.</param>
/// <param name="Unsupported">The guest kernel cannot host a session (a missing option), as the guest said.</param>
/// <param name="Log">What the console says: the kernel's errors and when it reached init.</param>
/// <param name="Quit">The user left an interactive shell with Ctrl-A X: QEMU exited by itself, with no kernel error on the console.</param>
public sealed record GuestSessionResult(int? ExitCode, string? Failure, string? Unsupported, bool HostRootShared, QemuRunResult Qemu, BootLogAnalysis Log,
    string SerialLogPath, string StandardOutputPath, string StandardErrorPath, bool Quit = false);

/// <summary>
/// Boots a kernel into the developer's own environment, as virtme-ng does: the host's root file system shared read-only
/// over 9p (tmpfs on /tmp, /run, /var/tmp and /var/log for writes), the current directory shared read-write at the same
/// path, and a command run there as root (Run) or a shell on the console (Shell). The command's stdout and stderr travel
/// on their own virtio serial ports, so kernel messages never mix with them, and stream to Kiln's as they arrive; its
/// exit status travels on the report device with the run's nonce. A guest of another arch than the host's cannot run
/// the host's binaries: it runs the command in the initramfs's busybox, with the directory still shared.
/// </summary>
public sealed class GuestSession
{
    public const string StandardOutputName = "stdout";
    public const string StandardErrorName = "stderr";
    /// <summary>The name the guest reports the command's (or the shell's) exit status under.</summary>
    public const string CommandTestName = "command";
    /// <summary>The check the guest fails when its kernel cannot host the session.</summary>
    public const string SetupCheckName = "session";
    public const string StandardOutputPort = "kiln.stdout";
    public const string StandardErrorPort = "kiln.stderr";

    private readonly IKilnLog _log;
    private readonly QemuRunner _qemu;
    private readonly Stream _stdout;
    private readonly Stream _stderr;

    /// <param name="stdout">Where the command's stdout streams as it arrives (the host's output channel); <paramref name="stderr"/> likewise.</param>
    public GuestSession(IKilnLog log, Stream stdout, Stream stderr, QemuRunner? qemu = null)
    {
        _log = log;
        _qemu = qemu ?? new QemuRunner(log);
        _stdout = stdout;
        _stderr = stderr;
    }

    public GuestSessionResult Run(GuestSessionSpec spec, CancellationToken cancellation = default) =>
        RunAsync(spec, cancellation).GetAwaiter().GetResult();

    public async Task<GuestSessionResult> RunAsync(GuestSessionSpec spec, CancellationToken cancellation = default)
    {
        if (!File.Exists(spec.KernelPath)) throw KilnException.BadInput($"Kernel image not found: {spec.KernelPath}");
        if (!Directory.Exists(spec.WorkingDirectory)) throw KilnException.BadInput($"The directory to share is gone: {spec.WorkingDirectory}");
        InitramfsBuilder.CheckBusybox(spec.BusyboxPath, spec.Arch);
        spec.Machine.RequireHostMemory();
        var output = Path.GetFullPath(spec.OutputDirectory);
        Directory.CreateDirectory(output);
        var paths = new SessionFiles(output);
        foreach (var stale in new[] { paths.Stdout, paths.Stderr }) File.Delete(stale);

        var nonce = GuestReport.NewNonce();
        var shareRoot = spec.Arch.IsHost;
        if (!shareRoot)
            _log.Warning($"A {spec.Arch.Name} guest cannot run this {System.Runtime.InteropServices.RuntimeInformation.OSArchitecture} host's binaries: " +
                         "the command runs in the initramfs's busybox, with the current directory shared.");
        WriteInitramfs(spec, nonce, shareRoot, paths.Initramfs);

        var qemuSpec = new QemuSpec
        {
            Arch = spec.Arch,
            KernelPath = Path.GetFullPath(spec.KernelPath),
            InitrdPath = paths.Initramfs,
            ReportPath = paths.Report,
            // A fixed address keeps gdb's symbols right; quiet keeps the boot off an interactive console.
            ExtraKernelArgs = string.Join(' ', new[] { spec.GdbPort is null ? null : "nokaslr", spec.Command is null ? "quiet" : null, spec.ExtraKernelArgs }
                .Where(a => !string.IsNullOrWhiteSpace(a))),
            Machine = spec.Machine,
            ExtraQemuArguments = QemuArguments(spec, shareRoot, paths),
            // Run waits as long as the command runs unless told; a halted guest waits for its debugger.
            Timeout = spec.Timeout ?? System.Threading.Timeout.InfiniteTimeSpan,
            Accelerator = spec.Accelerator,
            Interactive = spec.Command is null,
            GdbPort = spec.GdbPort,
        };

        QemuRunResult run;
        using (var pumps = new CancellationTokenSource())
        {
            var copyOut = spec.Command is null ? Task.CompletedTask : FollowFile(paths.Stdout, _stdout, pumps.Token);
            var copyErr = spec.Command is null ? Task.CompletedTask : FollowFile(paths.Stderr, _stderr, pumps.Token);
            // QEMU puts an interactive terminal in raw mode and restores it when it exits normally, not when it is killed.
            var terminal = spec.Command is null ? Stty(_log, "-g") : null;
            try
            {
                run = await _qemu.RunAsync(qemuSpec, paths.Serial, cancellation);
            }
            finally
            {
                // QEMU has exited: the followers copy what is left and stop.
                pumps.Cancel();
                await Task.WhenAll(copyOut, copyErr);
                if (terminal is not null) Stty(_log, terminal);
            }
        }

        var report = GuestReport.ParseFile(paths.Report, nonce);
        var reported = report.Tests.FirstOrDefault(t => t.Name == CommandTestName);
        var unsupported = report.Checks.TryGetValue(SetupCheckName, out var setup) && setup.Status != GuestCheckStatus.Ok ? setup.Message : null;
        var log = BootLogAnalyzer.Analyze(File.Exists(paths.Serial) ? File.ReadAllLines(paths.Serial) : []);
        var kernelError = log.FirstError;
        var quit = spec.Command is null && reported is null && unsupported is null && run is { ExitCode: 0, TimedOut: false, GuestHalt: null } && kernelError is null;
        var failure = reported is not null || unsupported is not null || quit ? null : WhyNoExitStatus(run, report, kernelError);
        return new GuestSessionResult(reported?.ExitCode, failure, unsupported, shareRoot, run, log, paths.Serial, paths.Stdout, paths.Stderr, quit);
    }

    /// <summary>A free TCP port on 127.0.0.1 for QEMU's gdb stub (free when asked; QEMU fails loudly if another process takes it first).</summary>
    public static int FreeLocalPort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        var port = ((IPEndPoint)socket.LocalEndpoint).Port;
        socket.Stop();
        return port;
    }

    /// <summary>The terminal's rows and columns, for the guest's console; null when there is no terminal to ask.</summary>
    public static (int Rows, int Columns)? TerminalSize(IKilnLog log) =>
        Stty(log, "size")?.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var rows, var columns]
        && int.TryParse(rows, out var r) && int.TryParse(columns, out var c) ? (r, c) : null;

    /// <summary>stty on the controlling terminal: its settings (-g), its size, or settings restored; null when there is no terminal.</summary>
    private static string? Stty(IKilnLog log, string argument)
    {
        var result = new Processes.Command("stty", "-F", "/dev/tty", argument) { AcceptedExitCodes = [0, 1] }.Run(log);
        return result.ExitCode == 0 ? result.StandardOutput.Trim() : null;
    }

    private sealed record SessionFiles(string Directory)
    {
        public string Serial => Path.Combine(Directory, BootTester.SerialLogName);
        public string Report => Path.Combine(Directory, BootTester.ReportName);
        public string Initramfs => Path.Combine(Directory, BootTester.InitramfsName);
        public string Stdout => Path.Combine(Directory, StandardOutputName);
        public string Stderr => Path.Combine(Directory, StandardErrorName);
    }

    /// <summary>The shares (the host's root read-only, the working directory read-write) and the command's two output ports.</summary>
    private static IReadOnlyList<string> QemuArguments(GuestSessionSpec spec, bool shareRoot, SessionFiles paths)
    {
        var profile = spec.Machine.Profile;
        var args = new List<string>();
        if (shareRoot) args.AddRange(HostShares.QemuArguments(profile, HostShares.RootTag, "/", readOnly: true));
        args.AddRange(HostShares.QemuArguments(profile, HostShares.WorkTag, Path.GetFullPath(spec.WorkingDirectory), readOnly: false));
        if (spec.Command is not null)
        {
            args.AddRange(["-device", profile.Transport.Device("virtio-serial") + ",id=kilnio"]);
            foreach (var (id, file, name) in new[] { ("kilnout", paths.Stdout, StandardOutputPort), ("kilnerr", paths.Stderr, StandardErrorPort) })
                args.AddRange(["-chardev", $"file,id={id},path={QemuRunner.EscapeOption(file)}",
                    "-device", $"virtserialport,bus=kilnio.0,chardev={id},name={name}"]);
        }
        return args;
    }

    private void WriteInitramfs(GuestSessionSpec spec, string nonce, bool shareRoot, string path)
    {
        AtomicFile.Write(path, (Stream file) =>
        {
            using var gzip = new GZipStream(file, CompressionLevel.Fastest);
            using var cpio = new CpioWriter(gzip);
            InitramfsBuilder.WriteBase(cpio, spec.Arch, spec.BusyboxPath, nonce);
            cpio.AddFile("kiln/cwd", Path.GetFullPath(spec.WorkingDirectory), 0x1A4);
            if (spec.Command is not null) cpio.AddFile("kiln/command", spec.Command, 0x1A4);
            cpio.AddFile("init", SessionInit.Script(spec, shareRoot), 0x1ED);
        });
        _log.Verbose($"Wrote initramfs {path} ({new FileInfo(path).Length} bytes)");
    }

    /// <summary>Copies what QEMU appends to <paramref name="path"/> to <paramref name="target"/> until cancelled, then the rest.</summary>
    private static async Task FollowFile(string path, Stream target, CancellationToken stop)
    {
        var buffer = new byte[64 * 1024];
        FileStream? source = null;
        try
        {
            while (true)
            {
                var stopping = stop.IsCancellationRequested;
                if (source is null && File.Exists(path))
                    source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                var copied = false;
                int read;
                while (source is not null && (read = await source.ReadAsync(buffer, CancellationToken.None)) > 0)
                {
                    await target.WriteAsync(buffer.AsMemory(0, read), CancellationToken.None);
                    copied = true;
                }
                if (copied) await target.FlushAsync(CancellationToken.None);
                if (stopping) return;
                try { await Task.Delay(25, stop); } catch (OperationCanceledException) { }
            }
        }
        finally
        {
            if (source is not null) await source.DisposeAsync();
        }
    }

    /// <summary>Why a guest never reported the command's exit status, from the console and QEMU's end.</summary>
    private static string WhyNoExitStatus(QemuRunResult run, GuestReport report, KernelError? kernelError)
    {
        var error = kernelError is { } first ? $"; the console shows {first.Kind} at {BootTester.SerialLogName}:{first.LineNumber}: {first.Line.Trim()}" : "";
        if (run.TimedOut) return $"the guest did not finish within {run.Timeout.TotalSeconds:0} s and was killed{error}";
        if (!report.Started) return $"the kernel never reached init (QEMU exit {run.ExitCode?.ToString() ?? "none"}){error}";
        if (report.LastBegunTest != CommandTestName) return $"init started but never reached the command{error}";
        return $"the guest stopped while the command ran (QEMU exit {run.ExitCode?.ToString() ?? "none"}" +
               (run.GuestHalt is { } halt ? $", {halt}" : "") + $"){error}";
    }
}
