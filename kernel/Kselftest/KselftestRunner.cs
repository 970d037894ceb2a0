using Kiln.Kernel.Boot;
using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Run;

namespace Kiln.Kernel.Kselftest;

/// <summary>What the Kselftest target did: the verdict (results.json, junit.xml), the guest session, and where the selftests were installed.</summary>
public sealed record KselftestOutcome(BootTestResult Result, GuestSessionResult Session, string InstallDirectory, string BuildLog);

/// <summary>
/// Builds the requested selftests with the kernel's own make (headers, then <c>make -C tools/testing/selftests TARGETS=…
/// install</c>) in a directory of their own beside the kernel's build directory, and runs them in a guest session with
/// the kernel's runner, <c>run_kselftest.sh</c>, from the install directory shared read-write. They are built on the
/// host against its libraries, which the guest runs them with (the host's / is its root).
/// </summary>
/// <param name="output">Where the runner's TAP streams as it arrives (the host's output channel); <paramref name="error"/> likewise.</param>
public sealed class KselftestRunner(IKilnLog log, Stream output, Stream error)
{
    public const string ResultsName = "results.json";
    public const string JUnitName = "junit.xml";

    /// <param name="objectDirectory">make's O= for the headers and the selftests' objects (kept for the next run's make).</param>
    public string Build(string tree, string objectDirectory, Arch arch, IReadOnlyList<string> targets, int jobs, string installDirectory, string buildLog)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(buildLog)!);
        using var logWriter = new StreamWriter(buildLog, append: false) { AutoFlush = true };
        void Make(string purpose, params string[] arguments)
        {
            logWriter.WriteLine("$ make " + string.Join(' ', arguments.Select(Command.Quote)));
            var lines = new List<string>();
            void Line(string line)
            {
                lock (lines)
                {
                    logWriter.WriteLine(line);
                    lines.Add(line);
                }
            }
            var result = new Command("make", arguments) { Purpose = purpose, CaptureOutput = false, OnOutput = Line, OnError = Line, AcceptedExitCodes = Enumerable.Range(0, 256).ToArray() }
                .Run(log);
            // As for the kernel: the compiler's errors with their context (the last lines when there are none), the whole log in the file.
            if (result.ExitCode != 0)
                throw KilnException.KernelFailed($"{purpose} failed" + (BuildErrorExtractor.FirstFailingFile(lines) is { } where ? " in " + where : "") +
                                                 $" (make exit {result.ExitCode}):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", BuildErrorExtractor.Extract(lines)) +
                                                 $"{Environment.NewLine}Full log: {buildLog}");
        }

        var objects = Path.GetFullPath(objectDirectory);
        Directory.CreateDirectory(objects);
        log.Info($"Building kselftests {string.Join(", ", targets)} ({Path.Combine(tree, Kselftests.Directory)}, O={objects})");
        Make("Installing the kernel headers for the selftests", "-C", tree, $"O={objects}", $"ARCH={arch.MakeArch}", $"-j{jobs}", "headers");
        // Installed into a temporary directory that replaces the last install only when complete.
        var staging = AtomicFile.TempPathFor(installDirectory);
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Make($"Building the selftests {string.Join(", ", targets)}", "-C", Path.Combine(tree, Kselftests.Directory), $"O={objects}", $"ARCH={arch.MakeArch}",
            $"-j{jobs}", $"TARGETS={string.Join(' ', targets)}", $"INSTALL_PATH={staging}", "install");
        if (Directory.Exists(installDirectory)) Directory.Delete(installDirectory, recursive: true);
        Directory.Move(staging, installDirectory);
        return installDirectory;
    }

    /// <summary>
    /// Runs run_kselftest.sh in the guest and judges its TAP: one check per test, written as results.json and JUnit. A guest
    /// that does not finish (a test hangs past the time limit, the kernel dies) keeps the results reported before it, and the
    /// test it was in fails.
    /// </summary>
    /// <param name="kernelConfig">The kernel's .config, to warn when the runner's own per-test timeout cannot work.</param>
    public KselftestOutcome Run(GuestSessionSpec session, IReadOnlyList<string> targets, string release, string buildLog, string kernelConfig)
    {
        var limit = session.Timeout ?? Kselftests.GuestTimeout(session.WorkingDirectory);
        // timeout(1), which the runner bounds each test with, needs POSIX timers (timer_create, alarm); Kata's guest has none.
        if (!File.ReadLines(kernelConfig).Contains("CONFIG_POSIX_TIMERS=y"))
            log.Warning($"Linux {release} has no CONFIG_POSIX_TIMERS, so the kselftest runner's per-test timeout (timeout(1)) cannot fire: " +
                        $"a test that hangs holds the guest until Kiln stops it after {limit.TotalSeconds:0} s (--timeout).");
        var ran = new GuestSession(log, output, error).Run(session with { Timeout = limit });
        if (ran.Unsupported is { } why)
            throw KilnException.BadInput($"Linux {release} cannot run the selftests' guest session: {why}. Serial log: {ran.SerialLogPath}");

        var tap = File.Exists(ran.StandardOutputPath) ? File.ReadAllLines(ran.StandardOutputPath) : [];
        // A guest that reported the runner's exit status has no failure and no unfinished test.
        var checks = Kselftests.Judge(Kselftests.ParseTap(tap), targets, ran.ExitCode is null ? Kselftests.Unfinished(tap) : null, ran.Failure);
        var directory = session.OutputDirectory;
        var result = new BootTestResult
        {
            Spec = new BootTestSpec { KernelPath = session.KernelPath, OutputDirectory = directory, Arch = session.Arch, ExpectedRelease = release, Machine = session.Machine },
            Checks = checks,
            Machine = session.Machine,
            Qemu = ran.Qemu,
            Log = ran.Log,
            Nonce = "",
            Release = release,
            SerialLogPath = ran.SerialLogPath,
            ReportPath = Path.Combine(directory, BootTester.ReportName),
            ResultsJsonPath = Path.Combine(directory, ResultsName),
            JUnitPath = Path.Combine(directory, JUnitName),
        };
        BootResultWriter.WriteJson(result, result.ResultsJsonPath);
        BootResultWriter.WriteJUnit(result, result.JUnitPath);
        return new KselftestOutcome(result, ran, session.WorkingDirectory, buildLog);
    }
}
