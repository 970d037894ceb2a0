using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Kiln.Kernel.Build;
using Kiln.Kernel.Build.Distribution;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Sources;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Build;

public class DistccFarmTests
{
    [TestCase("10.0.0.5", DistccTransport.Tcp, "10.0.0.5", 3632, 4)]
    [TestCase("10.0.0.5:3633/8,lzo", DistccTransport.Tcp, "10.0.0.5", 3633, 8)]
    [TestCase("build2/6", DistccTransport.Tcp, "build2", 3632, 6)]
    [TestCase("build2/6:4000,lzo,cpp", DistccTransport.Tcp, "build2", 4000, 6)]
    [TestCase("[::1]:3700/3", DistccTransport.Tcp, "::1", 3700, 3)]
    [TestCase("localhost", DistccTransport.Local, "localhost", 0, 2)]
    [TestCase("localhost/1", DistccTransport.Local, "localhost", 0, 1)]
    [TestCase("ci@farm.example.org/16:/opt/bin/distccd,lzo", DistccTransport.Ssh, "farm.example.org", 22, 16)]
    [TestCase("@farm", DistccTransport.Ssh, "farm", 22, 4)]
    public void ParsesDistccHostSpecifications(string spec, DistccTransport transport, string address, int port, int limit)
    {
        var host = DistccHost.Parse(spec);
        Assert.That(host, Is.EqualTo(new DistccHost(spec, transport, address, port, limit)));
    }

    [TestCase("10.0.0.5:http")]
    [TestCase("10.0.0.5:70000")]
    [TestCase("10.0.0.5/0")]
    [TestCase("10.0.0.5,gzip")]
    [TestCase("host;rm")]
    public void RejectsMalformedHostsAsBadInput(string spec)
    {
        var e = Assert.Throws<KilnException>(() => DistccFarm.Parse("127.0.0.1 " + spec))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain(spec).And.Contain("HOST[:PORT][/LIMIT]"));
    }

    [Test]
    public void KeepsGlobalOptionsApartAndRejectsZeroconfAndEmptyLists()
    {
        var farm = DistccFarm.Parse("  --randomize a:1/2   --localslots=3 b ");
        Assert.That(farm.Hosts.Select(h => h.Spec), Is.EqualTo(new[] { "a:1/2", "b" }));
        Assert.That(farm.Options, Is.EqualTo(new[] { "--randomize", "--localslots=3" }));
        Assert.That(Assert.Throws<KilnException>(() => DistccFarm.Parse("+zeroconf"))!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(Assert.Throws<KilnException>(() => DistccFarm.Parse("--randomize"))!.Message, Does.Contain("no hosts"));
    }

    [Test]
    public void ProbeTellsAListeningPortFromAClosedOne()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var open = ((IPEndPoint)listener.LocalEndpoint).Port;
        var closed = ClosedPort();
        var farm = DistccFarm.Parse($"127.0.0.1:{open}/2 127.0.0.1:{closed}/3 localhost");

        var probes = farm.Probe(TimeSpan.FromSeconds(2));

        Assert.That(probes.Select(p => p.Reachable), Is.EqualTo(new[] { true, false, true }));
        Assert.That(probes[1].Problem, Is.EqualTo("connection refused"));
    }

    [Test]
    public void PlanSendsJobsToReachableHostsOnlyAndSizesJobsFromTheirLimits()
    {
        var farm = DistccFarm.Parse("--randomize a:3632/4,lzo b/2 c:4000/8");
        var log = new RecordingLog();

        var plan = farm.Plan(Probes(farm, up: new[] { true, true, false }), localCpus: 2, requestedJobs: null, log);

        Assert.That(plan.IsDistributed, Is.True);
        Assert.That(plan.Jobs, Is.EqualTo(4 + 2 + 2), "remote limits plus the local CPUs");
        Assert.That(plan.Hosts, Is.EqualTo(new[] { "a:3632/4,lzo", "b/2" }));
        Assert.That(plan.Unreachable, Is.EqualTo(new[] { "c:4000/8" }));
        Assert.That(plan.Environment["CCACHE_PREFIX"], Is.EqualTo("distcc"));
        Assert.That(plan.Environment["DISTCC_HOSTS"], Is.EqualTo("--randomize a:3632/4,lzo b/2"));
        Assert.That(log.Lines, Has.One.Contains("c:4000 (refused) is left out"));
    }

    [Test]
    public void PlanCountsLocalhostsLimitInsteadOfTheCpusAndHonoursJobs()
    {
        var farm = DistccFarm.Parse("localhost/1 a/4");
        var probes = Probes(farm, up: new[] { true, true });
        Assert.That(farm.Plan(probes, localCpus: 8, requestedJobs: null, new RecordingLog()).Jobs, Is.EqualTo(5));
        Assert.That(farm.Plan(probes, localCpus: 8, requestedJobs: 3, new RecordingLog()).Jobs, Is.EqualTo(3), "--jobs wins");
        Assert.That(farm.Plan(probes, 8, null, new RecordingLog()).Environment["DISTCC_HOSTS"], Is.EqualTo("localhost/1 a/4"));
    }

    [Test]
    public void NoReachableHostMeansALocalBuildWithAWarningNotAFailure()
    {
        var farm = DistccFarm.Parse("a/4 b/4");
        var log = new RecordingLog();

        var plan = farm.Plan(Probes(farm, up: new[] { false, false }), localCpus: 2, requestedJobs: null, log);

        Assert.That(plan.IsDistributed, Is.False);
        Assert.That(plan.Engine, Is.EqualTo("local"));
        Assert.That(plan.Jobs, Is.EqualTo(2));
        Assert.That(plan.Requested, Is.EqualTo("a/4 b/4"));
        Assert.That(plan.Fallback, Does.Contain("no distcc host answered").And.Contain("a:3632 (refused)"));
        Assert.That(plan.Environment, Does.ContainKey("CCACHE_PREFIX").WithValue(null), "an inherited CCACHE_PREFIX must not sneak distcc in");
        Assert.That(log.Lines, Has.One.StartsWith("warning: Building locally with 2 jobs"));
    }

    [Test]
    public void DistributionIsRecordedInMetadataAndReadBack()
    {
        using var dir = new TempDir();
        var distribution = new BuildDistribution(BuildDistribution.Distcc, 6)
        {
            Requested = "a/4 b/4 c/4", Hosts = new[] { "a/4" }, Unreachable = new[] { "b/4", "c/4" }, EngineVersion = "distcc 3.4",
        };
        var metadata = new BuildMetadata("6.1.192-1", "h", "r", "6.1.192", "6.1.192-1", "x86_64", "", "tinyconfig",
            new SourceProvenance("kernel.org", "6.1.192", "url", "sha", null), new Dictionary<string, string>(), new Dictionary<string, double>(),
            new Dictionary<string, string>(), Array.Empty<string>(), Array.Empty<string>(), distribution);
        var path = dir["metadata.json"];
        metadata.Write(path);

        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var written = json.RootElement.GetProperty("distribution");
        Assert.That(written.GetProperty("engine").GetString(), Is.EqualTo("distcc"));
        Assert.That(written.GetProperty("engine_version").GetString(), Is.EqualTo("distcc 3.4"));
        Assert.That(written.TryGetProperty("environment", out _), Is.False);
        Assert.That(written.TryGetProperty("fallback", out _), Is.False, "unset fields are left out");
        var read = BuildMetadata.Read(path)!.Distribution!;
        Assert.That(read.Hosts, Is.EqualTo(new[] { "a/4" }));
        Assert.That(read.Unreachable, Is.EqualTo(new[] { "b/4", "c/4" }));
        Assert.That(read.Jobs, Is.EqualTo(6));
    }

    [Test]
    public void MetadataWrittenBeforeDistributionWasRecordedStillReads()
    {
        using var dir = new TempDir();
        var path = dir.File("metadata.json", """
            {"key":"6.1.192-1","identity_hash":"h","recipe_hash":"r","version":"6.1.192","release":"6.1.192-1","arch":"x86_64",
             "variant":"","base_config":"tinyconfig","source":{"provider":"p","version":"6.1.192","origin":"o","sha256":"s"},
             "toolchain":{},"durations_seconds":{},"files":{},"patches":[],"fragments":[]}
            """);
        var read = BuildMetadata.Read(path);
        Assert.That(read, Is.Not.Null);
        Assert.That(read!.Distribution, Is.Null);
    }

    private static IReadOnlyList<ProbeResult> Probes(DistccFarm farm, bool[] up) =>
        farm.Hosts.Select((h, i) => new ProbeResult(h, up[i], up[i] ? null : "refused")).ToList();

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
