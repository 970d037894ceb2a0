using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Versions;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Versions;

public class VersionsManifestTests
{
    private TempDir _dir = null!;

    [SetUp] public void SetUp() => _dir = new TempDir();
    [TearDown] public void TearDown() => _dir.Dispose();

    // Line numbers below refer to this text (1-based).
    private const string Good = """
        assets:
          kernel:
            description: "d"
            url: "https://example.org/v{major}.x/"
            version: "v6.1.192"
            series:
              "6.1":
                version: "6.1.192"
                sources: [kernel.org, "debian:linux-source-6.1"]
              "6.6":
                version: "6.6.63"
                sources: [kernel.org]
        """;

    private string Write(string text) => _dir.File("versions.yaml", text.ReplaceLineEndings("\n") + "\n");

    private static KilnException LoadFails(string path)
    {
        var e = Assert.Throws<KilnException>(() => VersionsManifest.Load(path))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput), e.Message);
        return e;
    }

    /// <summary>The error names the file and the line, "path:line:" (optionally with a column).</summary>
    private static void NamesLine(KilnException e, string path, int line) =>
        Assert.That(e.Message, Does.StartWith($"{path}:{line}:"), e.Message);

    [Test]
    public void RepositoryManifestLoadsWithItsThreeSeries()
    {
        var manifest = VersionsManifest.Load(Path.Combine(Repo.Root, "versions.yaml"));
        Assert.That(manifest.Series.Keys, Is.EquivalentTo(new[] { "6.1", "6.6", "6.12" }));
        Assert.That(manifest.DefaultVersion.ToString(), Is.EqualTo("6.1.192"));
        foreach (var pin in manifest.Series.Values)
        {
            Assert.That(pin.Version.SeriesName, Is.EqualTo(pin.Series));
            Assert.That(pin.Version.Sublevel, Is.Not.Null);
            Assert.That(pin.Sources, Is.Not.Empty);
        }
        Assert.That(manifest.Series["6.1"].Sources, Has.Some.EqualTo(new SourceSpec.DebianPackage("linux-source-6.1")));
        Assert.That(manifest.Series["6.6"].Sources, Is.EqualTo(new SourceSpec[] { new SourceSpec.KernelOrg() }));
        Assert.That(manifest.UrlFor(manifest.DefaultVersion), Is.EqualTo("https://cdn.kernel.org/pub/linux/kernel/v6.x/"));
    }

    [Test]
    public void A_series_key_written_as_a_sequence_is_bad_input_naming_the_line()
    {
        var path = Write(Good.Replace("\"6.6\":", "[6, 6]:"));
        var e = LoadFails(path);
        NamesLine(e, path, 10);
        Assert.That(e.Message, Does.Contain("a series key is a name such as \"6.1\""));
    }

    [TestCase("ftp://ftp.kernel.org/pub/v{major}.x/")]
    [TestCase("/srv/mirror/")]
    public void A_url_that_is_not_http_is_bad_input_naming_the_line(string url)
    {
        var path = Write(Good.Replace("https://example.org/v{major}.x/", url));
        var e = LoadFails(path);
        NamesLine(e, path, 4);
        Assert.That(e.Message, Does.Contain("is not an absolute http:// or https:// URL"));
    }

    [Test]
    public void GoodManifestRecordsLinesAndSources()
    {
        var m = VersionsManifest.Load(Write(Good));
        Assert.That(m.Series["6.1"].Line, Is.EqualTo(7));
        Assert.That(m.Series["6.1"].Sources.Select(s => s.ToString()), Is.EqualTo(new[] { "kernel.org", "debian:linux-source-6.1" }));
        Assert.That(m.Description, Is.EqualTo("d"));
    }

    [Test]
    public void MalformedYamlNamesFileAndLine()
    {
        var path = Write(Good.Replace("    version: \"v6.1.192\"", "    version: \"v6.1.192"));
        var e = LoadFails(path);
        Assert.That(e.Message, Does.StartWith(path + ":"));
        Assert.That(e.Message, Does.Contain("not valid YAML"));
        Assert.That(e.Message, Does.Match(@":\d+:\d+: "));
    }

    [Test]
    public void BadIndentationNamesTheLine()
    {
        var path = Write(Good.Replace("        sources: [kernel.org]", "       sources: [kernel.org]"));
        var e = LoadFails(path);
        Assert.That(e.Message, Does.StartWith(path + ":12:"), e.Message);
    }

    [Test]
    public void EmptyFileIsBadInput()
    {
        var e = LoadFails(Write(""));
        Assert.That(e.Message, Does.Contain("versions.yaml"));
    }

    [Test]
    public void MissingFileIsBadInput()
    {
        var e = LoadFails(_dir["nope.yaml"]);
        Assert.That(e.Message, Does.Contain("nope.yaml").And.Contain("not found"));
    }

    [TestCase("assets:", "other:", 1, "assets")]
    [TestCase("  kernel:", "  other:", 2, "assets.kernel")]
    [TestCase("    url: \"https://example.org/v{major}.x/\"", "    homepage: \"https://example.org\"", 3, "assets.kernel.url")]
    [TestCase("    version: \"v6.1.192\"", "    versio: \"v6.1.192\"", 3, "assets.kernel.version")]
    [TestCase("    series:", "    serie:", 3, "assets.kernel.series")]
    [TestCase("        version: \"6.6.63\"", "        release: \"6.6.63\"", 11, "version")]
    [TestCase("        sources: [kernel.org]", "        source: [kernel.org]", 11, "sources")]
    public void MissingKeyNamesKeyFileAndLine(string line, string replacement, int expectedLine, string key)
    {
        Assert.That(Good, Does.Contain(line));
        var path = Write(Good.Replace(line, replacement));
        var e = LoadFails(path);
        NamesLine(e, path, expectedLine);
        Assert.That(e.Message, Does.Contain(key));
    }

    [TestCase("    version: \"v6.1.192\"", "    version: \"latest\"", 5, "latest")]
    [TestCase("        version: \"6.1.192\"", "        version: \"6.1.x\"", 8, "6.1.x")]
    [TestCase("        version: \"6.1.192\"", "        version: \"6.1\"", 8, "6.1")]
    [TestCase("        version: \"6.1.192\"", "        version: \"\"", 8, "non-empty")]
    [TestCase("        version: \"6.1.192\"", "        version: \"99999999999.1.2\"", 8, "99999999999")]
    public void BadVersionNamesValueFileAndLine(string line, string replacement, int expectedLine, string shown)
    {
        var path = Write(Good.Replace(line, replacement));
        var e = LoadFails(path);
        NamesLine(e, path, expectedLine);
        Assert.That(e.Message, Does.Contain(shown));
    }

    [Test]
    public void UnknownSourceKindNamesItAndTheKnownOnes()
    {
        var path = Write(Good.Replace("[kernel.org, \"debian:linux-source-6.1\"]", "[kernel.org, \"github:torvalds/linux\"]"));
        var e = LoadFails(path);
        NamesLine(e, path, 9);
        Assert.That(e.Message, Does.Contain("github:torvalds/linux").And.Contain("kernel.org").And.Contain("debian:"));
    }

    [TestCase("[]")]
    [TestCase("kernel.org")]
    [TestCase("[\"debian:\"]")]
    public void EmptyOrMalformedSourcesAreRejected(string sources)
    {
        var path = Write(Good.Replace("[kernel.org, \"debian:linux-source-6.1\"]", sources));
        var e = LoadFails(path);
        NamesLine(e, path, 9);
    }

    [Test]
    public void SeriesVersionMismatchNamesBoth()
    {
        var path = Write(Good.Replace("        version: \"6.1.192\"", "        version: \"6.6.63\""));
        var e = LoadFails(path);
        NamesLine(e, path, 8);
        Assert.That(e.Message, Does.Contain("6.6.63").And.Contain("6.1"));
    }

    [Test]
    public void SeriesNameMustBeMajorMinor()
    {
        var path = Write(Good.Replace("    \"6.6\":", "    \"6.6.1\":"));
        var e = LoadFails(path);
        NamesLine(e, path, 10);
    }

    [Test]
    public void DefaultVersionMustBeInAPinnedSeries()
    {
        var path = Write(Good.Replace("\"v6.1.192\"", "\"v6.12.1\""));
        var e = LoadFails(path);
        NamesLine(e, path, 5);
        Assert.That(e.Message, Does.Contain("6.12"));
    }

    [Test]
    public void DuplicateSeriesIsBadInput()
    {
        var path = Write(Good + "\n      \"6.1\":\n        version: \"6.1.1\"\n        sources: [kernel.org]");
        var e = LoadFails(path);
        Assert.That(e.Message, Does.StartWith(path + ":"));
    }

    [Test]
    public void RelativeUrlIsRejected()
    {
        var path = Write(Good.Replace("\"https://example.org/v{major}.x/\"", "\"example.org/v{major}.x/\""));
        var e = LoadFails(path);
        NamesLine(e, path, 4);
    }

    // Resolve

    private VersionsManifest Manifest() => VersionsManifest.Load(Write(Good));

    [TestCase(null, "6.1.192", "6.1")]
    [TestCase("", "6.1.192", "6.1")]
    [TestCase("6.6", "6.6.63", "6.6")]
    [TestCase("v6.6", "6.6.63", "6.6")]
    [TestCase(" 6.6 ", "6.6.63", "6.6")]
    [TestCase("6.1.150", "6.1.150", "6.1")]
    [TestCase("6.6.63", "6.6.63", "6.6")]
    public void Resolves(string? requested, string version, string series)
    {
        var (pin, resolved) = Manifest().Resolve(requested);
        Assert.That(resolved.ToString(), Is.EqualTo(version));
        Assert.That(pin.Series, Is.EqualTo(series));
    }

    [TestCase("9.9")]
    [TestCase("6.12")]
    [TestCase("5.4.60")]
    public void UnknownSeriesListsPinnedSeries(string requested)
    {
        var e = Assert.Throws<KilnException>(() => Manifest().Resolve(requested))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("6.1, 6.6").And.Contain("versions.yaml").And.Contain(requested));
    }

    [TestCase("latest")]
    [TestCase("6")]
    [TestCase("6.1.2.3")]
    [TestCase("6.1-rc1")]
    [TestCase("99999999999.1")]
    public void NotAVersionIsBadInput(string requested)
    {
        var e = Assert.Throws<KilnException>(() => Manifest().Resolve(requested))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain(requested).And.Contain("6.1, 6.6"));
    }

    [TestCase("6.1", 6, 1, null)]
    [TestCase("6.12.117", 6, 12, 117)]
    [TestCase("10.0.0", 10, 0, 0)]
    public void KernelVersionParses(string text, int major, int minor, int? sub)
    {
        Assert.That(KernelVersion.TryParse(text, out var v), Is.True);
        Assert.That(v, Is.EqualTo(new KernelVersion(major, minor, sub)));
        Assert.That(v.ToString(), Is.EqualTo(text));
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("v6.1")]
    [TestCase("6.1.")]
    [TestCase("6..1")]
    [TestCase("99999999999.1")]
    [TestCase("6.1.99999999999")]
    public void KernelVersionRejects(string? text) =>
        Assert.That(KernelVersion.TryParse(text, out _), Is.False);
}

public class ConfigVersionTests
{
    private TempDir _dir = null!;

    [SetUp] public void SetUp() => _dir = new TempDir();
    [TearDown] public void TearDown() => _dir.Dispose();

    [Test]
    public void RepositoryCounterLoads() =>
        Assert.That(ConfigVersion.Load(Path.Combine(Repo.Root, "kata_config_version")), Is.GreaterThanOrEqualTo(1));

    [TestCase("83\n", 83)]
    [TestCase("  7  \n\n", 7)]
    [TestCase("# bump when a build's content changes\n12\n", 12)]
    public void Loads(string text, int expected) =>
        Assert.That(ConfigVersion.Load(_dir.File("kata_config_version", text)), Is.EqualTo(expected));

    [TestCase("abc\n")]
    [TestCase("1.5\n")]
    [TestCase("-1\n")]
    [TestCase("1 2\n")]
    [TestCase("1\n2\n")]
    [TestCase("99999999999\n")]
    [TestCase("")]
    [TestCase("\n  \n")]
    public void RejectsAnythingButOneInteger(string text)
    {
        var path = _dir.File("kata_config_version", text);
        var e = Assert.Throws<KilnException>(() => ConfigVersion.Load(path))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.StartWith(path + ":"));
        Assert.That(e.Message, Does.Contain("integer"));
    }

    [Test]
    public void ErrorNamesTheLineOfTheBadValue()
    {
        var path = _dir.File("kata_config_version", "# counter\n\nabc\n");
        var e = Assert.Throws<KilnException>(() => ConfigVersion.Load(path))!;
        Assert.That(e.Message, Does.StartWith(path + ":3:"), e.Message);
    }

    [Test]
    public void MissingFileSaysWhatItHolds()
    {
        var e = Assert.Throws<KilnException>(() => ConfigVersion.Load(_dir["kata_config_version"]))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("kata_config_version").And.Contain("not found").And.Contain("integer"));
    }
}
