using System.Diagnostics;
using System.Text;
using Kiln.Tests.Sources;
using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Reliability;

/// <summary>
/// A bad or slow mirror, an archive that escapes, a run killed while downloading or extracting, two runs on
/// one cache and a full disk, through Setup against a local kernel.org-layout mirror serving a tiny tree.
/// After each fault: exit 3 (infrastructure), no half-written download or tree under the cache's final names,
/// and the next run with a good mirror succeeds and cleans up what the fault left.
/// </summary>
[TestFixture]
[Category("Reliability")]
public sealed class SourceFaultTests
{
    private const string TreeName = FakeMirror.Version + "-kernel.org";

    /// <param name="verifiedDownloadMayStay">True when the fault came after the download was verified (it is then reused).</param>
    private static void AssertNothingTrusted(string cache, bool verifiedDownloadMayStay = false)
    {
        var downloads = Path.Combine(cache, "downloads");
        if (!verifiedDownloadMayStay)
            Assert.That(File.Exists(Path.Combine(downloads, FakeMirror.Tarball)), Is.False, "a download that failed verification or extraction kept under its final name");
        Assert.That(File.Exists(Path.Combine(cache, "sources", TreeName, ".kiln-source.json")), Is.False, "a tree recorded as complete");
    }

    /// <summary>The good mirror works again and the run leaves no temporary files behind.</summary>
    private static void AssertRecovers(FakeMirror mirror, string cache)
    {
        mirror.Restore();
        var rerun = Run(mirror.SetupArgs(cache));
        AssertSucceeds(rerun);
        Assert.That(File.Exists(Path.Combine(cache, "sources", TreeName, "Makefile")), Is.True, rerun.ToString());
        Assert.That(Scratch.Listing(Path.Combine(cache, "downloads")), Is.EqualTo(new[] { FakeMirror.Tarball }), "leftovers in downloads/");
        Assert.That(Scratch.Listing(Path.Combine(cache, "sources")), Is.EqualTo(new[] { TreeName }), "leftovers in sources/");
    }

    [Test]
    public void WrongChecksum()
    {
        using var scratch = new Scratch("sha");
        using var mirror = new FakeMirror();
        var cache = scratch.Path_("cache");
        mirror.Serve(mirror.Good, listedSha: new string('0', 64));
        var run = Run(mirror.SetupArgs(cache));
        AssertFails(run, 3, "sha256 mismatch", FakeMirror.Tarball, "discarded", "--mirror");
        AssertNothingTrusted(cache);
        AssertRecovers(mirror, cache);
    }

    [Test]
    public void TruncatedDownload()
    {
        using var scratch = new Scratch("trunc");
        using var mirror = new FakeMirror();
        var cache = scratch.Path_("cache");
        mirror.Serve(mirror.Good[..(mirror.Good.Length / 2)], listedSha: Tarballs.Sha256(mirror.Good), claimedLength: mirror.Good.Length);
        var run = Run(mirror.SetupArgs(cache));
        AssertFails(run, 3, "Could not get the source of Linux 6.1.192", FakeMirror.Tarball, "--mirror=URL");
        AssertNothingTrusted(cache);
        AssertRecovers(mirror, cache);
    }

    [Test]
    public void CorruptTarballWithMatchingChecksum()
    {
        using var scratch = new Scratch("corrupt");
        using var mirror = new FakeMirror();
        var cache = scratch.Path_("cache");
        var corrupt = (byte[])mirror.Good.Clone();
        for (var i = 64; i < corrupt.Length - 64; i++) corrupt[i] ^= 0x5a;
        mirror.Serve(corrupt); // the mirror's sums match its corrupt file: only extraction can tell
        var run = Run(mirror.SetupArgs(cache));
        AssertFails(run, 3, "corrupt or truncated archive", FakeMirror.Tarball);
        Assert.That(File.Exists(Path.Combine(cache, "sources", TreeName, ".kiln-source.json")), Is.False);
        AssertRecovers(mirror, cache);
    }

    [TestCase("linux-6.1.192/../../escaped.txt")]
    [TestCase("linux-6.1.192/init/../../../escaped.txt")]
    [TestCase("/tmp/kiln-rel-escaped-absolute.txt")]
    public void ArchiveEntryEscapingTheTree(string entry)
    {
        using var scratch = new Scratch("escape");
        using var mirror = new FakeMirror();
        var cache = scratch.Path_("cache");
        mirror.Serve(FakeMirror.Escaping(entry));
        var run = Run(mirror.SetupArgs(cache));
        AssertFails(run, 3, "refusing entry", "outside the source directory");
        var escaped = Directory.EnumerateFiles(scratch.Root, "escaped.txt", SearchOption.AllDirectories).ToList();
        Assert.That(escaped, Is.Empty, "an entry was written outside the tree");
        Assert.That(File.Exists("/tmp/kiln-rel-escaped-absolute.txt"), Is.False);
        AssertNothingTrusted(cache);
        AssertRecovers(mirror, cache);
    }

    [Test]
    public void KilledDuringDownload()
    {
        using var scratch = new Scratch("kill-dl");
        using var mirror = new FakeMirror(paddingBytes: 3 << 20);
        var cache = scratch.Path_("cache");
        mirror.Serve(mirror.Good, chunkDelay: TimeSpan.FromMilliseconds(100));
        var run = Run(mirror.SetupArgs(cache), killWhen: l => l.Contains("Downloading "), killDelay: TimeSpan.FromSeconds(1.5));
        Assert.That(run.Killed, Is.True, "the download should still have been running:\n" + run);
        Assert.That(Scratch.Listing(Path.Combine(cache, "downloads")), Has.All.Contains(".tmp-"), "only a temporary file may exist");
        AssertNothingTrusted(cache);
        AssertRecovers(mirror, cache);
    }

    [Test]
    public void KilledDuringExtraction()
    {
        using var scratch = new Scratch("kill-x");
        using var mirror = new FakeMirror(extraFiles: 40000);
        var cache = scratch.Path_("cache");
        var run = Run(mirror.SetupArgs(cache), killWhen: l => l.Contains("Extracting "), killDelay: TimeSpan.FromMilliseconds(700));
        Assert.That(run.Killed, Is.True, "the extraction should still have been running:\n" + run);
        Assert.That(Scratch.Listing(Path.Combine(cache, "sources")), Has.All.StartsWith("."), "only a staging directory may exist");
        AssertNothingTrusted(cache, verifiedDownloadMayStay: true);
        AssertRecovers(mirror, cache);
    }

    [Test]
    public void TwoRunsAtOnceOnOneCache()
    {
        using var scratch = new Scratch("lock");
        using var mirror = new FakeMirror(paddingBytes: 2 << 20);
        var cache = scratch.Path_("cache");
        mirror.Serve(mirror.Good, chunkDelay: TimeSpan.FromMilliseconds(100));
        var downloading = new TaskCompletionSource();
        var first = Task.Run(() => Run(mirror.SetupArgs(cache), onLine: l => { if (l.Contains("Downloading ")) downloading.TrySetResult(); }));
        // The first run holds the source lock while it downloads (about 3 s from this slow mirror).
        Assert.That(Task.WhenAny(downloading.Task, first).Result, Is.SameAs(downloading.Task), "the first run never started downloading");
        var second = Task.Run(() => Run(mirror.SetupArgs(cache)));
        var runs = new[] { first.Result, second.Result };
        foreach (var run in runs) AssertSucceeds(run);
        Assert.That(runs[1].Output, Does.Contain("Waiting for another Kiln run"), runs[1].ToString());
        Assert.That(runs[1].Output, Does.Contain("Reusing verified source"), runs[1].ToString());
        Assert.That(mirror.Server.Hits("/" + FakeMirror.Tarball), Is.EqualTo(1), "the second run must reuse the first one's download");
        Assert.That(Scratch.Listing(Path.Combine(cache, "sources")), Is.EqualTo(new[] { TreeName }));
    }

    [Test]
    public void FullDiskUnderTheCache()
    {
        using var scratch = new Scratch("full");
        using var mirror = new FakeMirror(paddingBytes: 2 << 20);
        var cache = scratch.Dir("cache on tmpfs");
        using var tmpfs = Tmpfs.Mount(cache, "1m");
        var run = Run(mirror.SetupArgs(cache));
        AssertFails(run, 3, "No space left on device", cache, "--cache-dir");
        Assert.That(run.Output, Does.Not.Contain("Offline alternatives"), "a full disk is not a network problem");
        AssertNothingTrusted(cache);

        tmpfs.Resize("64m");
        AssertRecovers(mirror, cache);
    }
}

/// <summary>A small tmpfs mounted over a directory (needs root), to run out of space on purpose.</summary>
public sealed class Tmpfs : IDisposable
{
    private readonly string _path;

    private Tmpfs(string path) => _path = path;

    public static Tmpfs Mount(string path, string size)
    {
        Prerequisite.Require(Environment.UserName == "root", "mounting a tmpfs needs root");
        // Private, as a cache directory must be (a tmpfs root is 1777 by default, which Kiln refuses for a cache).
        Sh("mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0700", "kiln-rel-tmpfs", path);
        return new Tmpfs(path);
    }

    public void Resize(string size) => Sh("mount", "-o", "remount,size=" + size, _path);

    public void MakeReadOnly() => Sh("mount", "-o", "remount,ro", _path);

    public void Dispose() => Sh("umount", "-l", _path);

    private static void Sh(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.EqualTo(0), $"{file} {string.Join(' ', args)}: {err}");
    }
}
