using System.Diagnostics;
using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Reliability;

/// <summary>
/// No QEMU outlives Kiln: a boot whose guest hangs (a --test that sleeps, a long --timeout) gets SIGTERM, SIGINT or
/// SIGHUP (what timeout, CI cancellation and a closed terminal send) or SIGKILL to the host process alone. Within a few
/// seconds no qemu-system-* (nor its virtiofsd) with this test's scratch directory in its argv is left, and a handled signal exits
/// with 128 + its number. Other tests' QEMUs are never touched: they are found by the scratch path in their argv.
/// </summary>
[TestFixture]
[Category("Reliability")]
[NonParallelizable]
public sealed class OrphanProcessTests
{
    [TestCase("TERM", 143)]
    [TestCase("INT", 130)]
    [TestCase("HUP", 129)]
    [TestCase("KILL", 137)]
    public void SignalDuringBootTestLeavesNoQemu(string signal, int exitCode)
    {
        using var scratch = new Scratch("orphan-" + signal.ToLowerInvariant());
        var cache = scratch.CacheWithSharedKernel();
        var tests = scratch.Dir("tests");
        File.WriteAllText(Path.Combine(tests, "hang.sh"), "#!/bin/sh\nsleep 100000\n");
        string[] args = ["--target=BootTest", "--kernel=6.1", "--source=debian", "--cache-dir=" + cache, "--out=" + scratch.Path_("out"),
            "--test=" + Path.Combine(tests, "hang.sh"), "--timeout=600"];

        var sawQemu = false;
        var run = Run(args, killWhen: l => l.Contains("Booting "), killDelay: TimeSpan.FromSeconds(3), hostSignal: signal,
            onLine: l => sawQemu |= l.Contains("Booting "));

        Assert.That(sawQemu && run.Killed, Is.True, "the boot should have been running:\n" + run);
        var left = WaitForNone(scratch.Root, TimeSpan.FromSeconds(10), program => program.StartsWith("qemu-system-", StringComparison.Ordinal) || program == "virtiofsd");
        try
        {
            Assert.That(left, Is.Empty, "QEMU outlived Kiln:\n" + run);
        }
        finally
        {
            foreach (var pid in left) Process.GetProcessById(pid).Kill();
        }
        Assert.That(run.ExitCode, Is.EqualTo(exitCode), run.ToString());
        if (signal != "KILL")
        {
            Assert.That(run.StdErr, Does.Contain($"Interrupted by SIG{signal}: stopped ").And.Contain("qemu-system-x86_64 (pid "), run.ToString());
            AssertNoStackTrace(run);
        }
    }

    [Test]
    public void TermDuringConfigureLeavesNoMake()
    {
        using var guard = new SharedTreeGuardScope();
        using var scratch = new Scratch("orphan-make");
        var cache = scratch.Dir("cache");
        var tree = Kiln.Tests.Integration.TestKernel.SourceTree;
        Directory.CreateDirectory(Path.Combine(cache, "sources"));
        Directory.CreateSymbolicLink(Path.Combine(cache, "sources", Path.GetFileName(tree)), tree);
        string[] args = ["--target=Configure", "--kernel=6.1", "--source=debian", "--cache-dir=" + cache, "--out=" + scratch.Path_("out")];

        var run = Run(args, killWhen: l => l.Contains("Configure: "), killDelay: TimeSpan.FromSeconds(1.5), hostSignal: "TERM");

        Assert.That(run.Killed, Is.True, "Configure should have been running:\n" + run);
        var left = WaitForNone(scratch.Root, TimeSpan.FromSeconds(10), _ => true);
        try
        {
            Assert.That(left, Is.Empty, "a child of Kiln outlived it:\n" + run);
        }
        finally
        {
            foreach (var pid in left) Process.GetProcessById(pid).Kill();
        }
        Assert.That(run.ExitCode, Is.EqualTo(143), run.ToString());
        Assert.That(run.StdErr, Does.Contain("Interrupted by SIGTERM: stopped "), run.ToString());
        AssertNoStackTrace(run);
    }

    /// <summary>The processes (of the programs <paramref name="program"/> accepts) whose command line names <paramref name="marker"/>, after waiting for them to go.</summary>
    private static IReadOnlyList<int> WaitForNone(string marker, TimeSpan within, Func<string, bool> program)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var left = Processes(marker, program);
            if (left.Count == 0 || watch.Elapsed > within) return left;
            Thread.Sleep(200);
        }
    }

    private static List<int> Processes(string marker, Func<string, bool> isProgram)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string[] argv;
            try { argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0'); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            if (pid != Environment.ProcessId && isProgram(Path.GetFileName(argv[0])) && argv.Any(a => a.Contains(marker, StringComparison.Ordinal)))
                found.Add(pid);
        }
        return found;
    }
}
