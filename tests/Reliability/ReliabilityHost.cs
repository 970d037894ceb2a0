using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Kiln.Tests.Integration;

namespace Kiln.Tests.Reliability;

/// <summary>What one run of the real host did: exit code, both streams, and whether the test killed it.</summary>
public sealed record HostRun(int ExitCode, string StdOut, string StdErr, TimeSpan Duration, bool Killed)
{
    public string Output => StdOut + "\n" + StdErr;
    public override string ToString() =>
        $"exit {ExitCode}{(Killed ? " (killed by the test)" : "")} after {Duration.TotalSeconds:F1} s\n--- stdout\n{StdOut}\n--- stderr\n{StdErr}";
}

/// <summary>
/// Runs the built host as a process, the way build.sh does, with a chosen environment; can kill the whole
/// process tree (host, make, xz, QEMU) the moment a line of its output shows it reached a given step.
/// </summary>
public static class ReliabilityHost
{
    private static readonly Regex Ansi = new(@"\x1b\[[0-9;]*[A-Za-z]", RegexOptions.Compiled);

    /// <param name="killWhen">When a line matches, the process tree is killed after <paramref name="killDelay"/>.</param>
    /// <param name="onLine">Sees every output line as it arrives (to start something when the run reaches a step).</param>
    /// <param name="hostSignal">Instead of SIGKILL to the tree, this signal (TERM, KILL, …) to the host process alone, as timeout and CI send it.</param>
    public static HostRun Run(IEnumerable<string> args, string? root = null, IReadOnlyDictionary<string, string?>? env = null,
        Func<string, bool>? killWhen = null, TimeSpan? killDelay = null, TimeSpan? timeout = null, Action<string>? onLine = null,
        string? hostSignal = null)
    {
        var argList = args.ToList();
        // Started with default signal handling, as from a terminal: a test run launched in the background (`cmd &`,
        // nohup) ignores SIGINT and SIGHUP, every child inherits that, and .NET rightly leaves ignored signals ignored.
        // env execs dotnet, so the host keeps env's pid.
        var psi = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--default-signal=HUP,INT,QUIT");
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(typeof(Kiln.Build.BuildContext).Assembly.Location);
        foreach (var a in argList) psi.ArgumentList.Add(a);
        psi.Environment["KILN_ROOT"] = root ?? KilnRun.RepoRoot;
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment.Remove("KILN_MIRROR");
        psi.Environment.Remove("KILN_CACHE_DIR");
        if (env is not null)
            foreach (var (k, v) in env)
                if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var killRequested = new TaskCompletionSource();
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        void OnLine(StringBuilder into, string? line)
        {
            if (line is null) return;
            line = Ansi.Replace(line, "");
            lock (into) into.AppendLine(line);
            onLine?.Invoke(line);
            if (killWhen is not null && killWhen(line)) killRequested.TrySetResult();
        }
        process.OutputDataReceived += (_, e) => OnLine(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var killed = false;
        var exited = process.WaitForExitAsync();
        // Long enough for a cold kernel build on 2 busy cores (a rerun after a kill can miss ccache): the limit only
        // stops a hung run; tests that judge speed assert a duration of their own.
        var limit = Task.Delay(timeout ?? TimeSpan.FromMinutes(30));
        var first = Task.WhenAny(exited, killRequested.Task, limit).GetAwaiter().GetResult();
        if (first == killRequested.Task)
        {
            Thread.Sleep(killDelay ?? TimeSpan.Zero);
            if (!process.HasExited && hostSignal is not null)
            {
                using var kill = Process.Start("kill", ["-" + hostSignal, process.Id.ToString()]);
                kill.WaitForExit();
                killed = true;
            }
            else if (!process.HasExited)
            {
                // SIGKILL to every process of the run: nothing gets to clean up, as with a power cut or OOM kill.
                process.Kill(entireProcessTree: true);
                killed = true;
            }
        }
        else if (first == limit)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"kiln {string.Join(' ', argList)} did not finish in time:\n{stdout}\n{stderr}");
        }
        process.WaitForExit();
        TestContext.Progress.WriteLine($"kiln {string.Join(' ', argList)}: {(killed ? "killed" : "exit " + process.ExitCode)} in {watch.Elapsed.TotalSeconds:F1} s");
        return new HostRun(process.ExitCode, stdout.ToString(), stderr.ToString(), watch.Elapsed, killed);
    }

    /// <summary>
    /// The contract of every user-facing failure: the documented exit code, an "Error:" line that says
    /// what is wrong (each fragment), and no stack trace or exception type names.
    /// </summary>
    public static void AssertFails(HostRun run, int exitCode, params string[] fragments)
    {
        Assert.That(run.Killed, Is.False, run.ToString());
        Assert.That(run.ExitCode, Is.EqualTo(exitCode), run.ToString());
        Assert.That(run.StdErr, Does.Contain("Error: "), run.ToString());
        foreach (var fragment in fragments)
            Assert.That(run.Output, Does.Contain(fragment), run.ToString());
        AssertNoStackTrace(run);
    }

    public static void AssertNoStackTrace(HostRun run)
    {
        Assert.That(run.Output, Does.Not.Match(@"(?m)^\s+at [\w.<>`]+[.(]"), "stack trace in the output:\n" + run);
        Assert.That(run.Output, Does.Not.Match(@"\b(System|Kiln)\.[\w.]*Exception\b"), "exception type in the output:\n" + run);
    }

    public static void AssertSucceeds(HostRun run)
    {
        Assert.That(run.Killed, Is.False, run.ToString());
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
    }
}
