using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Reliability;

/// <summary>
/// Broken versions.yaml and kata_config_version, through the real host running the main job: exit 2 before
/// any work, a message naming the file (and line) and what is expected, nothing written to the cache, and the
/// repaired input works.
/// </summary>
[TestFixture]
[Category("Reliability")]
public sealed class InputFaultTests
{
    private static readonly string[] Pristine = File.ReadAllLines(Path.Combine(Kiln.Tests.Integration.KilnRun.RepoRoot, "versions.yaml"));

    private static void BreakRunRepair(Action<string> breakIt, params string[] expected)
    {
        using var scratch = new Scratch("input");
        var inputs = scratch.Inputs();
        var cache = scratch.Path_("cache");
        breakIt(inputs);

        var bad = Run(new[] { "--target=BuildKernel", "--cache-dir=" + cache, "--out=" + scratch.Path_("out") }, inputs);
        AssertFails(bad, 2, expected);
        Assert.That(bad.Duration, Is.LessThan(TimeSpan.FromSeconds(15)), "bad input must fail before any work");
        Assert.That(Directory.Exists(cache), Is.False, "nothing may be written to the cache on bad input");
        Assert.That(Directory.Exists(scratch.Path_("out")), Is.False, "nothing may be written to --out on bad input");

        File.WriteAllLines(Path.Combine(inputs, "versions.yaml"), Pristine);
        File.WriteAllText(Path.Combine(inputs, "kata_config_version"), "1\n");
        AssertSucceeds(Run(new[] { "--target=CacheKey" }, inputs));
    }

    private static Action<string> Versions(Func<string, string> edit) =>
        root => File.WriteAllText(Path.Combine(root, "versions.yaml"), edit(string.Join("\n", Pristine) + "\n"));

    [Test]
    public void VersionsYamlSyntaxError() =>
        BreakRunRepair(Versions(y => y.Replace("sources: [kernel.org]", "sources: [kernel.org")), "versions.yaml:", "not valid YAML");

    [Test]
    public void VersionsYamlMissingSeries() =>
        BreakRunRepair(Versions(y => y[..y.IndexOf("    series:", StringComparison.Ordinal)]), "versions.yaml", "missing key 'assets.kernel.series'");

    [Test]
    public void VersionsYamlMissingSeriesVersion() =>
        BreakRunRepair(Versions(y => y.Replace("        version: \"6.1.192\"\n", "")), "versions.yaml", "\"6.1\"", "version");

    [Test]
    public void VersionsYamlBadVersionString() =>
        BreakRunRepair(Versions(y => y.Replace("\"6.1.192\"\n        sources", "\"6.1.x\"\n        sources")),
            "versions.yaml:", "'6.1.x' is not a kernel version", "such as 6.1.192");

    [Test]
    public void VersionsYamlBadSeriesName() =>
        BreakRunRepair(Versions(y => y.Replace("\"6.6\":", "\"six\":")), "versions.yaml:", "\"six\"", "major.minor");

    [Test]
    public void VersionsYamlUnknownSource() =>
        BreakRunRepair(Versions(y => y.Replace("sources: [kernel.org]", "sources: [ftp]")), "versions.yaml:", "unknown source 'ftp'", "Known: kernel.org");

    [Test]
    public void UnknownSeriesRequested()
    {
        using var scratch = new Scratch("input");
        var inputs = scratch.Inputs();
        var run = Run(new[] { "--target=BuildKernel", "--kernel=5.4", "--cache-dir=" + scratch.Path_("cache") }, inputs);
        AssertFails(run, 2, "5.4", "6.1");
        AssertSucceeds(Run(new[] { "--target=CacheKey", "--kernel=6.1" }, inputs));
    }

    [TestCase("one", "found 'one'")]
    [TestCase("", "found ''")]
    [TestCase("1.5", "found '1.5'")]
    [TestCase("-3", "non-negative integer")]
    public void KataConfigVersionNotAnInteger(string content, string expected) =>
        BreakRunRepair(root => File.WriteAllText(Path.Combine(root, "kata_config_version"), content + "\n"), "kata_config_version", expected);

    [Test]
    public void KataConfigVersionMissing() =>
        BreakRunRepair(root => File.Delete(Path.Combine(root, "kata_config_version")), "kata_config_version: not found", "start with 1");
}
