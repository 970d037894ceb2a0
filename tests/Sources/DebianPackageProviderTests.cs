using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Sources;
using Kiln.Kernel.Versions;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Sources;

/// <summary>Debian's linux-source-6.1 (installed here): the offline source. Extracts ~1.3 GB once for the fixture.</summary>
[Category("Integration")]
[NonParallelizable]
public class DebianPackageProviderTests
{
    private const string Package = "linux-source-6.1";
    private TempDir _cache = null!;
    private string _debianUpstream = null!;
    private VerifiedSource _verified = null!;
    private SourceTree _tree = null!;
    private RecordingLog _log = null!;

    [OneTimeSetUp]
    public void AcquireOnce()
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dpkg-query", ["-W", "-f=${Status}|${Version}", Package]) { RedirectStandardOutput = true, RedirectStandardError = true };
        string output;
        try
        {
            using var p = System.Diagnostics.Process.Start(psi)!;
            output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception) { output = ""; }
        var parts = output.Split('|');
        Prerequisite.Require(parts.Length == 2 && parts[0].EndsWith(" installed") && File.Exists($"/usr/src/{Package}.tar.xz"),
            $"{Package} is not installed");
        _debianUpstream = parts[1].Split('-')[0];

        _cache = new TempDir("kiln-debian-");
        _log = new RecordingLog();
        KernelVersion.TryParse(_debianUpstream, out var version);
        _verified = new DebianPackageProvider(Package, mayInstall: false).Acquire(version, new SourceCache(_cache.Path), _log);
        _verifiedBeforeExtraction = (_verified.IsUnpacked, _cache.Listing("sources").Count);
        _tree = _verified.Tree();
    }

    private (bool Unpacked, int SourcesEntries) _verifiedBeforeExtraction;

    [Test]
    public void The_archive_is_verified_without_extracting_and_its_record_is_the_one_the_tree_keeps()
    {
        Assert.That(_verifiedBeforeExtraction, Is.EqualTo((false, 0)), "verification extracted something");
        Assert.That(_verified.Provenance.Sha256, Is.EqualTo(SourceCache.FileSha256($"/usr/src/{Package}.tar.xz")));
        // What later runs read from the extracted tree, and so the identity of every kernel built from it.
        Assert.That(SourceProvenance.ReadFrom(_tree.Directory), Is.EqualTo(_verified.Provenance));
    }

    [OneTimeTearDown]
    public void TearDown() => _cache?.Dispose();

    [Test]
    public void AcquiresDebiansTreeWithProvenance()
    {
        Assert.That(_tree.Reused, Is.False);
        Assert.That(_tree.Version.ToString(), Is.EqualTo(_debianUpstream));
        Assert.That(LocalTreeProvider.ReadMakefileVersion(Path.Combine(_tree.Directory, "Makefile"))!.ToString(), Is.EqualTo(_debianUpstream));
        Assert.That(File.Exists(Path.Combine(_tree.Directory, "Kconfig")));
        Assert.That(Directory.Exists(Path.Combine(_tree.Directory, "arch", "x86")));
        var provenance = SourceProvenance.ReadFrom(_tree.Directory)!;
        Assert.That(provenance.Provider, Is.EqualTo("debian:" + Package));
        Assert.That(provenance.Origin, Is.EqualTo($"/usr/src/{Package}.tar.xz"));
        Assert.That(provenance.Sha256, Does.Match("^[0-9a-f]{64}$"));
        Assert.That(provenance.Detail, Does.Contain("Debian").And.Contain("patched"));
        Assert.That(_cache.Listing("sources").Where(p => !p.Contains(Path.DirectorySeparatorChar)), Has.None.Contains(".tmp"));
    }

    [Test]
    public void SecondAcquireReuses()
    {
        KernelVersion.TryParse(_debianUpstream, out var version);
        var again = new DebianPackageProvider(Package, mayInstall: false).Acquire(version, new SourceCache(_cache.Path), new RecordingLog());
        Assert.That(again.IsUnpacked, Is.True);
        Assert.That(again.Tree().Reused, Is.True);
        Assert.That(again.Tree().Directory, Is.EqualTo(_tree.Directory));
    }

    [Test]
    public void PinMismatchNamesDebiansVersionAndHowToPin()
    {
        using var repo = new TempDir();
        var path = repo.File("versions.yaml", """
            assets:
              kernel:
                url: "https://cdn.kernel.org/pub/linux/kernel/v{major}.x/"
                version: "6.1.150"
                series:
                  "6.1": { version: "6.1.150", sources: ["debian:linux-source-6.1"] }
            """);
        var manifest = VersionsManifest.Load(path);
        var (pin, version) = manifest.Resolve("6.1");
        using var http = new HttpClient();
        var acquirer = SourceAcquirer.For("auto", pin, manifest, version, mirror: null, mayInstall: false, http);
        using var cache = new TempDir();
        var e = Assert.Throws<KilnException>(() => acquirer.Acquire(version, new SourceCache(cache.Path), new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("6.1.150").And.Contain(_debianUpstream).And.Contain("versions.yaml")
            .And.Contain($"version \"{_debianUpstream}\"").And.Contain($"--kernel={_debianUpstream}"));
        Assert.That(cache.Listing("sources"), Is.Empty, "nothing extracted for a mismatch");
    }
}
