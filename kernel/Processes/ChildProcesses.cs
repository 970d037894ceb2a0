using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Kiln.Kernel.Processes;

/// <summary>
/// Starts every child process of Kiln (through <see cref="Command"/>) so that none outlives it: QEMU, make, virtiofsd.
/// <list type="bullet">
/// <item>SIGKILL (nothing in Kiln runs): each child starts as <c>setpriv --pdeathsig KILL -- program …</c>, so the kernel
/// kills it when its parent goes. .NET cannot call prctl(PR_SET_PDEATHSIG) between fork and exec itself, and a process
/// group with a watchdog process would need a second process that can itself be killed. The parent-death signal
/// fires when the <em>thread</em> that forked the child ends, and .NET's pool threads come and go, so all children are
/// forked from one thread that lives as long as Kiln.</item>
/// <item>SIGTERM, SIGINT, SIGHUP (what timeout, CI cancellation, Ctrl-C and a closed terminal send):
/// <see cref="ExitOnInterrupt"/> kills each live child's process tree, runs the registered clean-ups (a container
/// by name: killing the docker client does not stop its container), and exits with 128 + the signal number.</item>
/// </list>
/// A grandchild (a compiler under make) gets no signal of its own on SIGKILL; it finishes its one file and exits.
/// </summary>
public static class ChildProcesses
{
    private static readonly BlockingCollection<Action> Forks = new();
    private static readonly Lazy<Thread> ForkingThread = new(() =>
    {
        var thread = new Thread(() =>
        {
            foreach (var fork in Forks.GetConsumingEnumerable()) fork();
        }) { IsBackground = true, Name = "kiln-child-starter" };
        thread.Start();
        return thread;
    });
    private static readonly string? SetPriv = FindOnPath("setpriv");
    /// <summary>The running children, with the program's name for the interrupt's report.</summary>
    private static readonly Dictionary<Process, string> Live = [];
    private static readonly Dictionary<object, (string What, Action Stop)> CleanUps = [];
    private static Action? _interruptOwner;
    private static int _interrupted;

    /// <summary>True once an interrupt is stopping Kiln: a child that ends now was killed by it, not by the kernel's fault.</summary>
    public static bool Interrupting => Volatile.Read(ref _interrupted) != 0;

    /// <summary>
    /// Starts <paramref name="start"/> (its arguments in ArgumentList) under the parent-death signal and tracks it.
    /// A program that is not found throws <see cref="Win32Exception"/>, as <see cref="Process.Start()"/> does.
    /// </summary>
    public static Process Start(ProcessStartInfo start)
    {
        if (start.Arguments.Length > 0) throw new ArgumentException("pass arguments in ArgumentList", nameof(start));
        if (Interrupting) Park();
        // Resolved here, as Process.Start would, so a missing program is still an error of ours and not setpriv's exit 127.
        var program = start.FileName.Contains('/') ? Path.GetFullPath(start.FileName) : FindOnPath(start.FileName);
        if (program is null || !File.Exists(program)) throw new Win32Exception(2, "No such file or directory");
        if (!IsExecutable(program)) throw new Win32Exception(13, "Permission denied");
        var name = Path.GetFileName(program);
        // Without setpriv (util-linux, essential on Debian) a SIGKILL can orphan children; signals are still handled.
        if (SetPriv is not null)
        {
            var arguments = start.ArgumentList.ToList();
            start.ArgumentList.Clear();
            foreach (var argument in new[] { "--pdeathsig", "KILL", "--", program }.Concat(arguments)) start.ArgumentList.Add(argument);
            program = SetPriv;
        }
        start.FileName = program;

        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.Exited += (_, _) => { lock (Live) Live.Remove(process); };
        _ = ForkingThread.Value;
        Forks.Add(() =>
        {
            try
            {
                lock (Live)
                {
                    process.Start();
                    Live[process] = name;
                }
                started.SetResult(process);
            }
            catch (Exception e)
            {
                process.Dispose();
                started.SetException(e);
            }
        });
        return started.Task.GetAwaiter().GetResult();
    }

    /// <summary>Registers what stops something a child started elsewhere (a container); dispose when it has ended.</summary>
    public static IDisposable OnInterrupt(string what, Action stop)
    {
        var key = new object();
        lock (CleanUps) CleanUps[key] = (what, stop);
        return new Registration(() => { lock (CleanUps) CleanUps.Remove(key); });
    }

    /// <summary>
    /// While the result is not disposed, an interrupt calls <paramref name="cancel"/> instead of stopping Kiln: the
    /// caller (a bisect) winds down and cleans up itself. Its children then get the cancellation's kill.
    /// </summary>
    public static IDisposable HandleInterrupts(Action cancel)
    {
        _interruptOwner = cancel;
        return new Registration(() => _interruptOwner = null);
    }

    /// <summary>
    /// Installs the handlers for SIGTERM, SIGINT and SIGHUP until disposed: each kills every child, runs the clean-ups,
    /// reports what it stopped through <paramref name="report"/> and exits with 128 + the signal number.
    /// </summary>
    public static IDisposable ExitOnInterrupt(Action<string> report)
    {
        var registrations = new (PosixSignal Signal, string Name, int Number)[]
            {
                (PosixSignal.SIGTERM, "SIGTERM", 15), (PosixSignal.SIGINT, "SIGINT", 2), (PosixSignal.SIGHUP, "SIGHUP", 1),
            }
            .Select(s => PosixSignalRegistration.Create(s.Signal, context =>
            {
                context.Cancel = true;
                if (_interruptOwner is { } owner)
                {
                    owner();
                    return;
                }
                if (Interlocked.Exchange(ref _interrupted, 1) != 0) return;
                var stopped = StopAll();
                report($"Interrupted by {s.Name}: " + (stopped.Count == 0 ? "no child process was running." : $"stopped {string.Join(", ", stopped)}.") +
                       " Nothing unfinished is trusted by the next run.");
                Environment.Exit(128 + s.Number);
            }))
            .ToList();
        return new Registration(() => registrations.ForEach(r => r.Dispose()));
    }

    /// <summary>Kills the process tree of every live child and runs every clean-up; returns what it stopped.</summary>
    private static List<string> StopAll()
    {
        var stopped = new List<string>();
        KeyValuePair<Process, string>[] live;
        lock (Live) live = Live.ToArray();
        foreach (var (process, name) in live)
        {
            try
            {
                var pid = process.Id;
                process.Kill(entireProcessTree: true);
                stopped.Add($"{name} (pid {pid})");
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException or Win32Exception)
            {
                // It ended meanwhile.
            }
        }
        (string What, Action Stop)[] cleanUps;
        lock (CleanUps) cleanUps = CleanUps.Values.ToArray();
        foreach (var (what, stop) in cleanUps)
        {
            try
            {
                stop();
                stopped.Add(what);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or Win32Exception)
            {
                // Best effort: the process is exiting; the next run's clean-up handles the rest.
            }
        }
        return stopped;
    }

    /// <summary>
    /// Called by a caller that saw its child end during an interrupt: the interrupt handler is exiting with its own
    /// code, and judging the killed child (a "failed" boot) would only race it.
    /// </summary>
    public static void Park()
    {
        Thread.Sleep(Timeout.Infinite);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, name))
        .FirstOrDefault(path => File.Exists(path) && IsExecutable(path));

    private static bool IsExecutable(string path) =>
        OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    private sealed class Registration(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;
        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }
}
