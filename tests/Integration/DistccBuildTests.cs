using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text.Json;
using NUnit.Framework.Interfaces;

namespace Kiln.Tests.Integration;

/// <summary>
/// BuildKernel through a distcc farm of two daemons on loopback addresses this test owns: the jobs must really
/// reach both daemons and the bzImage must be byte for byte the local build's. One full kernel build.
/// </summary>
[TestFixture]
[Category("Integration")]
[Category("Extended")]
[NonParallelizable]
[SupportedOSPlatform("linux")]
public sealed class DistccBuildTests
{
    private readonly List<Process> _daemons = new();
    private string _workDir = "";

    [OneTimeSetUp]
    public void CreateWorkDir()
    {
        if (!File.Exists("/usr/bin/distccd") || !File.Exists("/usr/bin/distcc"))
            Assert.Fail("distcc is not installed: apt-get install distcc");
        // distccd run as root drops to the distcc user, which must be able to write its log here.
        _workDir = Path.Combine(Path.GetTempPath(), "kiln-distcc-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_workDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    [OneTimeTearDown]
    public void StopDaemons()
    {
        foreach (var daemon in _daemons)
        {
            // The daemon preforks its workers: take the whole tree down, then reap it.
            try { daemon.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            daemon.WaitForExit(10_000);
            daemon.Dispose();
        }
        _daemons.Clear();
        if (_workDir.Length == 0 || !Directory.Exists(_workDir)) return;
        // A failed run keeps its build, artifacts and daemon logs: they are what explains the failure.
        if (TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Passed)
            Directory.Delete(_workDir, recursive: true);
        else
            TestContext.Progress.WriteLine($"Kept {_workDir} (build, artifacts, distccd logs) for inspection");
    }

    [Test]
    public void BuildKernel_through_two_distcc_daemons_sends_jobs_to_both_and_matches_the_local_build()
    {
        var localImage = SharedKernel.BzImage;
        var logA = StartDaemon(IPAddress.Parse("127.0.0.1"), out var portA);
        var logB = StartDaemon(IPAddress.Parse("127.0.0.2"), out var portB);

        // A cache of its own with an empty ccache, so every compile misses and goes to the daemons. The verified
        // source is the shared build's; the working tree is this cache's own, at the same place relative to its build
        // directory (../linux) as the shared build's, so ccache's base dir makes the same relative paths.
        var cacheDir = Path.Combine(_workDir, "cache");
        Directory.CreateDirectory(cacheDir);
        Directory.CreateSymbolicLink(Path.Combine(cacheDir, "sources"), Path.Combine(KilnRun.SharedCacheDir, "sources"));
        var outDir = Path.Combine(_workDir, "out");
        var hosts = $"127.0.0.1:{portA}/1,lzo 127.0.0.2:{portB}/1";

        var run = KilnRun.Run(new[] { "--target=BuildKernel", "--kernel=6.1", "--cache-dir=" + cacheDir, "--out=" + outDir, "--distcc-hosts=" + hosts });

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain("through distcc on"));
        var jobsA = CompiledJobs(logA);
        var jobsB = CompiledJobs(logB);
        TestContext.Progress.WriteLine($"distcc build: {run.Duration.TotalSeconds:F0} s, {jobsA} jobs on 127.0.0.1:{portA}, {jobsB} on 127.0.0.2:{portB}");
        Assert.That(jobsA, Is.GreaterThan(0), "no compile job reached the daemon on 127.0.0.1:\n" + Tail(logA));
        Assert.That(jobsB, Is.GreaterThan(0), "no compile job reached the daemon on 127.0.0.2:\n" + Tail(logB));

        Assert.That(Sha256(Path.Combine(outDir, "bzImage")), Is.EqualTo(Sha256(localImage)), "a distributed build must give the local build's bzImage");

        using var metadata = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metadata.json")));
        var root = metadata.RootElement;
        var distribution = root.GetProperty("distribution");
        Assert.That(distribution.GetProperty("engine").GetString(), Is.EqualTo("distcc"));
        Assert.That(distribution.GetProperty("hosts").EnumerateArray().Select(h => h.GetString()),
            Is.EqualTo(new[] { $"127.0.0.1:{portA}/1,lzo", $"127.0.0.2:{portB}/1" }));
        Assert.That(distribution.GetProperty("jobs").GetInt32(), Is.EqualTo(2 + Environment.ProcessorCount));
        Assert.That(distribution.GetProperty("engine_version").GetString(), Does.StartWith("distcc "));
        var local = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedKernel.OutDir, "metadata.json"))).RootElement;
        Assert.That(root.GetProperty("identity_hash").GetString(), Is.EqualTo(local.GetProperty("identity_hash").GetString()),
            "the compile engine must not change the cache identity");
    }

    /// <summary>Starts distccd on a free port of <paramref name="address"/> and waits until it accepts connections.</summary>
    private string StartDaemon(IPAddress address, out int port)
    {
        var probe = new TcpListener(address, 0);
        probe.Start();
        port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        var log = Path.Combine(_workDir, $"distccd-{address}-{port}.log");
        File.WriteAllText(log, "");
        File.SetUnixFileMode(log, (UnixFileMode)0b110_110_110);
        var psi = new ProcessStartInfo("distccd") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--daemon", "--no-detach", "--listen", address.ToString(), "--port", port.ToString(), "--allow", "127.0.0.0/8",
                     "--log-file", log, "--log-level", "info", "--jobs", "1" })
            psi.ArgumentList.Add(arg);
        var daemon = Process.Start(psi)!;
        _daemons.Add(daemon);

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            using var client = new TcpClient();
            try
            {
                client.Connect(address, port);
                return log;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !daemon.HasExited)
            {
                Thread.Sleep(200);
            }
            catch (SocketException)
            {
                Assert.Fail($"distccd on {address}:{port} did not start:\n{Tail(log)}");
            }
        }
    }

    /// <summary>distccd logs one job summary per compile it ran; COMPILE_OK means it compiled it.</summary>
    private static int CompiledJobs(string log) => File.ReadLines(log).Count(l => l.Contains("COMPILE_OK", StringComparison.Ordinal));

    private static string Tail(string log) => string.Join('\n', File.ReadLines(log).TakeLast(20));

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
