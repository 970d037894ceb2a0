using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Sources;
using Kiln.Kernel.Versions;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Sources;

[Category("Integration")]
public class KernelOrgProviderTests
{
    private static readonly KernelVersion V = new(6, 1, 999);
    private const string FileName = "linux-6.1.999.tar.xz";
    private const string Dir = "/pub/linux/kernel/v6.x/";
    private static byte[] _tarball = null!;

    private TinyHttpServer _server = null!;
    private TempDir _cache = null!;
    private HttpClient _http = null!;
    private RecordingLog _log = null!;

    [OneTimeSetUp]
    public void MakeTarball() => _tarball = Tarballs.TarXz(Tarballs.KernelTree("6.1.999", "linux-6.1.999"));

    [SetUp]
    public void SetUp()
    {
        _server = new TinyHttpServer();
        _cache = new TempDir();
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        _log = new RecordingLog();
    }

    [TearDown]
    public void TearDown()
    {
        _http.Dispose();
        _server.Dispose();
        _cache.Dispose();
    }

    private string Url => _server.BaseUrl.TrimEnd('/') + Dir;
    private KernelOrgProvider Provider() => new(Url, _http);
    private SourceCache Cache => new(_cache.Path);

    /// <summary>Verifies, then downloads and extracts as a stage asking for the tree does.</summary>
    private SourceTree Fetch() => Provider().Acquire(V, Cache, _log).Unpack();

    private void ServeSums(string sha) =>
        _server.Serve(Dir + "sha256sums.asc", $"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{new string('0', 64)}  linux-6.0.1.tar.xz\n{sha}  {FileName}\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n");

    /// <summary>Nothing a later run would trust: no partial download, no tree, no staging directory.</summary>
    private void AssertNothingLeft(bool archiveMayRemain = false)
    {
        var listing = _cache.Listing();
        Assert.That(listing, Has.None.Contains(".part"), string.Join("\n", listing));
        Assert.That(listing, Has.None.Contains(".tmp"), string.Join("\n", listing));
        Assert.That(listing.Where(p => p.StartsWith("sources/", StringComparison.Ordinal)), Is.Empty, string.Join("\n", listing));
        if (!archiveMayRemain) Assert.That(listing, Has.None.EndsWith(FileName), string.Join("\n", listing));
    }

    [Test]
    public void DownloadsVerifiesExtractsAndThenReuses()
    {
        ServeSums(Tarballs.Sha256(_tarball));
        _server.Serve(Dir + FileName, _tarball);

        var tree = Fetch();
        Assert.That(tree.Reused, Is.False);
        Assert.That(tree.Version, Is.EqualTo(V));
        Assert.That(tree.Directory, Is.EqualTo(Path.Combine(_cache.Path, "sources", "6.1.999-kernel.org")));
        Assert.That(File.ReadAllText(Path.Combine(tree.Directory, "init", "main.c")), Is.EqualTo("int main(void) { return 0; }\n"));
        Assert.That(LocalTreeProvider.ReadMakefileVersion(Path.Combine(tree.Directory, "Makefile")), Is.EqualTo(V));
        Assert.That(new FileInfo(Path.Combine(tree.Directory, "init", "link.c")).LinkTarget, Is.EqualTo("main.c"));

        var provenance = SourceProvenance.ReadFrom(tree.Directory)!;
        Assert.That(provenance, Is.Not.Null);
        Assert.That(provenance.Provider, Is.EqualTo("kernel.org"));
        Assert.That(provenance.Sha256, Is.EqualTo(Tarballs.Sha256(_tarball)));
        Assert.That(provenance.Origin, Is.EqualTo(Url + FileName));
        Assert.That(_server.Hits(Dir + FileName), Is.EqualTo(1));
        Assert.That(_cache.Listing(), Has.None.Contains(".part").And.None.Contains(".tmp"));

        var before = _server.TotalHits;
        var again = Fetch();
        Assert.That(again.Reused, Is.True);
        Assert.That(again.Directory, Is.EqualTo(tree.Directory));
        Assert.That(again.Provenance, Is.EqualTo(provenance));
        Assert.That(_server.TotalHits, Is.EqualTo(before), "a verified tree is reused without any request");
    }

    [Test]
    public void TheChecksumListAloneGivesTheIdentityAndTheArchiveWaitsForTheTree()
    {
        ServeSums(Tarballs.Sha256(_tarball));
        _server.Serve(Dir + FileName, _tarball);

        var source = Provider().Acquire(V, Cache, _log);
        Assert.That(source.IsUnpacked, Is.False);
        Assert.That(source.Provenance.Sha256, Is.EqualTo(Tarballs.Sha256(_tarball)));
        Assert.That(_server.Hits(Dir + FileName), Is.Zero, "a cached kernel needs no download");
        Assert.That(_cache.Listing().Where(p => p.StartsWith("sources", StringComparison.Ordinal) || p.StartsWith("downloads", StringComparison.Ordinal)), Is.Empty);

        var tree = source.Tree();
        Assert.That(_server.Hits(Dir + FileName), Is.EqualTo(1));
        // The same sha256, whether from the list (this run) or the download's bytes and the tree's record (later runs).
        Assert.That(SourceCache.FileSha256(Path.Combine(_cache.Path, "downloads", FileName)), Is.EqualTo(source.Provenance.Sha256));
        Assert.That(SourceProvenance.ReadFrom(tree.Directory), Is.EqualTo(source.Provenance));
    }

    [Test]
    public void VerifiedDownloadIsReusedWhenTheTreeIsGone()
    {
        ServeSums(Tarballs.Sha256(_tarball));
        _server.Serve(Dir + FileName, _tarball);
        var tree = Fetch();
        Directory.Delete(tree.Directory, recursive: true);

        var again = Fetch();
        Assert.That(again.Reused, Is.False);
        Assert.That(File.Exists(Path.Combine(again.Directory, "Makefile")));
        Assert.That(_server.Hits(Dir + FileName), Is.EqualTo(1), "the archive was not downloaded twice");
    }

    [Test]
    public void WrongChecksumFailsWithExit3AndLeavesNothing()
    {
        ServeSums(new string('a', 64));
        _server.Serve(Dir + FileName, _tarball);
        var e = Assert.Throws<KilnException>(() => Fetch())!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("sha256 mismatch").And.Contain(new string('a', 64)).And.Contain(Tarballs.Sha256(_tarball)).And.Contain(FileName));
        AssertNothingLeft();
    }

    [Test]
    public void WrongChecksumThroughTheAcquirerKeepsExit3()
    {
        ServeSums(new string('a', 64));
        _server.Serve(Dir + FileName, _tarball);
        var e = Assert.Throws<KilnException>(() => new SourceAcquirer(new[] { Provider() }).Acquire(V, Cache, _log))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("sha256 mismatch"));
        AssertNothingLeft();
    }

    [Test]
    public void MissingFileIsUnavailableWithTheUrl()
    {
        ServeSums(Tarballs.Sha256(_tarball));
        var e = Assert.Throws<SourceUnavailableException>(() => Fetch())!;
        Assert.That(e.Message, Does.Contain(Url + FileName).And.Contain("404"));
        AssertNothingLeft();
    }

    [Test]
    public void MissingChecksumListIsUnavailable()
    {
        _server.Serve(Dir + FileName, _tarball);
        var e = Assert.Throws<SourceUnavailableException>(() => Fetch())!;
        Assert.That(e.Message, Does.Contain(Url + "sha256sums.asc").And.Contain("404"));
        Assert.That(_server.Hits(Dir + FileName), Is.EqualTo(0), "nothing is downloaded before its checksum is known");
        AssertNothingLeft();
    }

    [Test]
    public void FileNotInTheChecksumListIsUnavailable()
    {
        _server.Serve(Dir + "sha256sums.asc", $"{new string('0', 64)}  linux-6.0.1.tar.xz\n");
        _server.Serve(Dir + FileName, _tarball);
        var e = Assert.Throws<SourceUnavailableException>(() => Fetch())!;
        Assert.That(e.Message, Does.Contain(FileName).And.Contain("sha256sums.asc"));
        Assert.That(_server.Hits(Dir + FileName), Is.EqualTo(0));
    }

    [Test]
    public void AcquirerMessageListsTheUrlAndOfflineAlternatives()
    {
        ServeSums(Tarballs.Sha256(_tarball));
        var e = Assert.Throws<KilnException>(() => new SourceAcquirer(new[] { Provider() }).Acquire(V, Cache, _log))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("6.1.999").And.Contain("kernel.org: " + Url + FileName).And.Contain("404")
            .And.Contain("--mirror=URL").And.Contain("--source=PATH").And.Contain("linux-source"));
    }

    [Test]
    public void AcquirerFallsBackToTheNextProvider()
    {
        _server.Serve(Dir + "sha256sums.asc", "");
        var second = new TinyHttpServer();
        try
        {
            second.Serve(Dir + "sha256sums.asc", $"{Tarballs.Sha256(_tarball)}  {FileName}\n");
            second.Serve(Dir + FileName, _tarball);
            var acquirer = new SourceAcquirer(new ISourceProvider[] { Provider(), new KernelOrgProvider(second.BaseUrl.TrimEnd('/') + Dir, _http) });
            var tree = acquirer.Acquire(V, Cache, _log);
            Assert.That(tree.Provenance.Origin, Does.StartWith(second.BaseUrl));
        }
        finally
        {
            second.Dispose();
        }
    }

    [Test]
    public void TruncatedDownloadLeavesNoPartialFileAndNoTree()
    {
        ServeSums(Tarballs.Sha256(_tarball));
        _server.Serve(Dir + FileName, new TinyHttpServer.Response(200, _tarball[..(_tarball.Length / 2)], ClaimedLength: _tarball.Length));
        // A download cut short is a network failure: the provider is "unavailable", so the next provider gets its
        // turn, and when none is left the acquirer's exit 3 lists it (docs/reliability.md, "truncated download").
        var e = Assert.Throws<SourceUnavailableException>(() => Fetch())!;
        Assert.That(e.Message, Does.StartWith(Url + FileName + ": "), e.Message);
        AssertNothingLeft();

        var all = Assert.Throws<KilnException>(() => new SourceAcquirer(new ISourceProvider[] { Provider() }).Acquire(V, Cache, _log))!;
        Assert.That(all.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(all.Message, Does.StartWith("Could not get the source of Linux 6.1.999. Tried:\n  - kernel.org: " + Url + FileName + ": "), all.Message);
        AssertNothingLeft();
    }

    [Test]
    public void CorruptArchiveWithMatchingChecksumIsAClearError()
    {
        var garbage = Tarballs.Xz(new byte[] { 1, 2, 3 })[..20];
        ServeSums(Tarballs.Sha256(garbage));
        _server.Serve(Dir + FileName, garbage);
        var e = Assert.Throws<KilnException>(() => Fetch())!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("corrupt or truncated").And.Contain(FileName));
        AssertNothingLeft(archiveMayRemain: true);
    }

    [Test]
    public void TarballWithoutAKernelTreeIsRejected()
    {
        var notKernel = Tarballs.TarXz(new[] { Tarballs.Dir("x/"), Tarballs.Reg("x/README", "hi\n") });
        ServeSums(Tarballs.Sha256(notKernel));
        _server.Serve(Dir + FileName, notKernel);
        var e = Assert.Throws<KilnException>(() => Fetch())!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("Makefile"));
        AssertNothingLeft(archiveMayRemain: true);
    }

    [Test]
    public void UnreachableServerIsUnavailable()
    {
        var provider = new KernelOrgProvider("http://127.0.0.1:9/pub/", _http);
        var e = Assert.Throws<SourceUnavailableException>(() => provider.Acquire(V, Cache, _log).Unpack())!;
        Assert.That(e.Message, Does.Contain("http://127.0.0.1:9/pub/sha256sums.asc"));
    }

    [TestCase("abc  linux-6.1.999.tar.xz\n", null)]
    [TestCase("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA  linux-6.1.999.tar.xz\r\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [TestCase("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb  linux-6.1.999.tar.xz.sign\n", null)]
    [TestCase("cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc  xlinux-6.1.999.tar.xz\n", null)]
    public void Sha256SumsMatchesWholeNamesOnly(string text, string? expected) =>
        Assert.That(Sha256Sums.Find(text, FileName), Is.EqualTo(expected));
}
