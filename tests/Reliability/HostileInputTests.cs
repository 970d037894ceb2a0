using System.Formats.Tar;
using Kiln.Tests.Sources;
using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Reliability;

/// <summary>
/// Inputs that ended in a .NET stack trace on main (issue 21, item 8, and the small ones of item 9), through the real
/// host: each is exit 2 (or 3 for what a mirror serves) with an "Error:" line naming the input, no stack trace, and
/// nothing kept that makes the next run fail the same way. All of them fail before any build.
/// </summary>
[TestFixture]
[Category("Reliability")]
public sealed class HostileInputTests
{
    /// <summary>What one case runs: arguments, the repository copy (null: the real one), and what to undo afterwards.</summary>
    public sealed record Invocation(string[] Args, string? Root = null, IDisposable? Cleanup = null);

    private static string[] Setup(FakeMirror mirror, Scratch scratch, params string[] extra) =>
        mirror.SetupArgs(scratch.Path_("cache")).Concat(extra).ToArray();

    private static string[] WithMirror(Scratch scratch, string mirror) =>
        ["--target=Setup", "--kernel=6.1", "--source=kernel.org", "--mirror=" + mirror, "--cache-dir=" + scratch.Path_("cache")];

    private static string AFile(Scratch scratch)
    {
        var file = scratch.Path_("a-file");
        File.WriteAllText(file, "x\n");
        return file;
    }

    private static TestCaseData Case(string name, int exit, Func<Scratch, FakeMirror, Invocation> arrange, params string[] fragments) =>
        new TestCaseData(exit, arrange, fragments).SetName(name);

    public static IEnumerable<TestCaseData> Inputs()
    {
        yield return Case("OutNamingAFile", 2, (s, m) => new(Setup(m, s, "--out=" + AFile(s))), "--out=", "this is a file, not a directory");
        yield return Case("OutUnderProc", 2, (s, m) => new(Setup(m, s, "--out=/proc/kiln")), "--out=/proc/kiln", "/proc is a kernel pseudo-filesystem");
        yield return Case("CacheDirNamingAFile", 2, (s, m) => new(Setup(m, s, "--cache-dir=" + AFile(s))), "--cache-dir=", "this is a file, not a directory");
        yield return Case("CacheDirUnderAFile", 2, (s, m) => new(Setup(m, s, "--cache-dir=" + Path.Combine(AFile(s), "cache"))), "--cache-dir=", "is a file, so nothing can be created under it");
        yield return Case("CacheDirOnAReadOnlyMount", 2, (s, m) =>
        {
            var dir = s.Dir("read-only");
            var tmpfs = Tmpfs.Mount(dir, "1m");
            tmpfs.MakeReadOnly();
            return new(Setup(m, s, "--cache-dir=" + dir), Cleanup: tmpfs);
        }, "--cache-dir=", "not writable (a read-only file system)");
        yield return Case("CacheDirUnderProc", 2, (s, m) => new(Setup(m, s, "--cache-dir=/proc/kiln")), "--cache-dir=/proc/kiln", "/proc is a kernel pseudo-filesystem");
        yield return Case("MirrorFileUrl", 2, (s, _) => new(WithMirror(s, "file:///srv/mirror/")), "--mirror=file:///srv/mirror/", "expected an http:// or https:// URL");
        yield return Case("MirrorFtpUrl", 2, (s, _) => new(WithMirror(s, "ftp://ftp.kernel.org/pub/")), "--mirror=ftp://ftp.kernel.org/pub/", "expected an http:// or https:// URL");
        yield return Case("MirrorNotAUrl", 2, (s, _) => new(WithMirror(s, "notaurl")), "--mirror=notaurl", "expected an http:// or https:// URL");
        yield return Case("MirrorRedirectingToFile", 3, (s, m) =>
        {
            m.Server.Serve("/sha256sums.asc", new TinyHttpServer.Response(302, [], Location: "file:///etc/passwd"));
            return new(Setup(m, s));
        }, "redirected to file:///etc/passwd", "http(s) URLs only");
        yield return Case("TimeoutTooLarge", 2, (s, m) => new(Setup(m, s, "--timeout=999999999")), "--timeout=999999999", "from 1 to 86400");
        yield return Case("JobsTooLarge", 2, (s, m) => new(Setup(m, s, "--jobs=99999999")), "--jobs=99999999", "from 1 to 1024");
        yield return Case("VariantIsAPath", 2, (s, m) => new(Setup(m, s, "--variant=/tmp/x")), "--variant=/tmp/x", "expected a name");
        yield return Case("VerbosityNumber", 2, (s, m) => new(Setup(m, s, "--verbosity=4")), "Unknown verbosity '4'", "quiet, minimal, normal, verbose, diagnostic");
        yield return Case("SeriesKeyAsASequence", 2, (s, _) =>
        {
            var inputs = s.Inputs();
            var yaml = Path.Combine(inputs, "versions.yaml");
            File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("\"6.1\":", "[6, 1]:"));
            return new(["--target=CacheKey"], inputs);
        }, "versions.yaml:", "a series key is a name such as \"6.1\"");
        yield return Case("PatchNumberTooLarge", 2, (s, m) => Patching(s, m, (dir, patch) =>
            File.Move(patch, Path.Combine(dir, "99999999999-x.patch"))), "99999999999-x.patch", "at most 9999");
        yield return Case("HunkLineCountTooLarge", 2, (s, m) => Patching(s, m, (_, patch) =>
            File.WriteAllText(patch, System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(patch), @"(?m)^@@ -\d+(,\d+)?", "@@ -1,99999999999"))),
            "0001-", "the hunk header's line count 99999999999 is out of range");
        yield return Case("TarballFileOverADirectory", 3, (s, m) => Serving(s, m, Tarballs.Dir(Top + "x/"), Tarballs.Reg(Top + "x", "x")),
            "refusing entry", "a file where the archive already made a directory", "download was deleted");
        yield return Case("TarballHardLinkToADirectory", 3, (s, m) => Serving(s, m, Tarballs.Dir(Top + "d/"), new Tarballs.Entry(Top + "h", TarEntryType.HardLink, LinkName: Top + "d")),
            "refusing entry", "hard link to the directory", "download was deleted");
        yield return Case("TarballNameTooLong", 3, (s, m) => Serving(s, m, Tarballs.Reg(Top + new string('n', 300), "x")),
            "refusing entry", "a name of 300 bytes", "download was deleted");
        yield return Case("TarballTwoLinkSymlinkChain", 3, (s, m) => Serving(s, m, Tarballs.Dir(Top + "d/"), Tarballs.Symlink(Top + "d/b", ".."), Tarballs.Symlink(Top + "a", "d/b/..")),
            "refusing entry", "symbolic link to d/b/..", "download was deleted");
    }

    private const string Top = "linux-" + FakeMirror.Version + "/";

    private static Invocation Serving(Scratch scratch, FakeMirror mirror, params Tarballs.Entry[] extra)
    {
        mirror.Serve(Tarballs.TarXz(Tarballs.KernelTree(FakeMirror.Version, Top.TrimEnd('/'), extra)));
        return new(Setup(mirror, scratch));
    }

    /// <summary>Patch from the fake mirror's tree, with the repository copy's first 6.1 patch changed by <paramref name="breakIt"/>.</summary>
    private static Invocation Patching(Scratch scratch, FakeMirror mirror, Action<string, string> breakIt)
    {
        var inputs = scratch.Inputs();
        var dir = Path.Combine(inputs, "patches", "6.1.x");
        breakIt(dir, Directory.GetFiles(dir, "0001-*.patch").Single());
        return new(mirror.SetupArgs(scratch.Path_("cache"), "Patch"), inputs);
    }

    [TestCaseSource(nameof(Inputs))]
    public void FailsWithAMessageNamingTheInput(int exit, Func<Scratch, FakeMirror, Invocation> arrange, string[] fragments)
    {
        using var scratch = new Scratch("hostile");
        using var mirror = new FakeMirror();
        var invocation = arrange(scratch, mirror);
        var root = invocation.Root;
        HostRun run;
        using (invocation.Cleanup)
            run = Run(invocation.Args, root);
        AssertFails(run, exit, fragments);

        if (fragments.Contains("refusing entry"))
        {
            var download = Path.Combine(scratch.Path_("cache"), "downloads", FakeMirror.Tarball);
            Assert.That(File.Exists(download), Is.False, "a download that cannot be used was kept: every rerun would fail on it");
            // The same bad mirror fails the same clean way; a good one works at once.
            AssertFails(Run(invocation.Args, root), 3, "refusing entry");
            mirror.Restore();
            AssertSucceeds(Run(invocation.Args, root));
        }
    }
}
