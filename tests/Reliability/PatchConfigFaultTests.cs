using Kiln.Tests.Integration;
using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Reliability;

/// <summary>
/// A patch that does not apply, a file that is not a patch, a misspelled option and an option dropped by an unmet
/// dependency, through the Patch and Configure targets on the shared Debian 6.1 source (linked into a scratch
/// cache, copied by the patch step, never written). After each: the documented exit code and message, no
/// patched tree or staging tree left, and the run with the input repaired succeeds.
/// </summary>
[TestFixture]
[Category("Reliability")]
[NonParallelizable]
public sealed class PatchConfigFaultTests
{
    private Scratch _scratch = null!;
    private string _inputs = null!;
    private string _cache = null!;
    private SharedTreeGuard _guard = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _scratch = new Scratch("patch");
        _guard = new SharedTreeGuard();
        _cache = _scratch.Dir("cache");
        var tree = TestKernel.SourceTree;
        Directory.CreateDirectory(Path.Combine(_cache, "sources"));
        Directory.CreateSymbolicLink(Path.Combine(_cache, "sources", Path.GetFileName(tree)), tree);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _scratch.Dispose();
        _guard.AssertUntouched();
    }

    [SetUp]
    public void FreshInputs() => _inputs = _scratch.Inputs("inputs-" + Guid.NewGuid().ToString("N")[..6]);

    private HostRun Run(string target) =>
        ReliabilityHost.Run(new[] { "--target=" + target, "--kernel=6.1", "--source=debian", "--cache-dir=" + _cache, "--out=" + _scratch.Path_("out") }, _inputs);

    private string SeriesDir => Path.Combine(_inputs, "patches", "6.1.x");

    /// <summary>Only finished working trees (work/&lt;build&gt;/linux with their state) may exist; no staging trees, no half-switched tree.</summary>
    private void AssertNoHalfPatchedTree()
    {
        foreach (var work in Scratch.Listing(Path.Combine(_cache, "work")).Select(name => Path.Combine(_cache, "work", name)))
        {
            Assert.That(Scratch.Listing(work), Has.None.StartsWith("."), "a staging tree was left behind in " + work);
            var tree = Path.Combine(work, "linux");
            if (!Directory.Exists(tree)) continue;
            Assert.That(File.Exists(Path.Combine(tree, ".kiln-patches")), Is.True, tree + " has no state");
            Assert.That(File.Exists(Path.Combine(tree, ".kiln-switching")), Is.False, tree + " is half-switched");
        }
    }

    /// <summary>A git format-patch file that passes lint, with the given diff.</summary>
    public static string FormatPatch(string subject, string diff) =>
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n" +
        "From: Kiln Tests <tests@kiln.invalid>\n" +
        "Date: Wed, 25 Nov 2026 12:00:00 +0000\n" +
        $"Subject: [PATCH] {subject}\n\n" +
        "Reliability test patch.\n\n" +
        "Signed-off-by: Kiln Tests <tests@kiln.invalid>\n" +
        "---\n" + diff + "-- \n2.39.5\n";

    [Test]
    public void PatchThatDoesNotApply()
    {
        File.WriteAllText(Path.Combine(SeriesDir, "0002-init-stale-context.patch"), FormatPatch("init: stale context",
            "diff --git a/init/main.c b/init/main.c\n--- a/init/main.c\n+++ b/init/main.c\n" +
            "@@ -10,3 +10,4 @@\n this line is not in main.c\n nor is this one\n+\tadded();\n and neither is this\n"));
        var run = Run("Patch");
        AssertFails(run, 1, "Patch 0002-init-stale-context.patch does not apply", "init/main.c", "hunk #1 FAILED", "Refresh the patch");
        AssertNoHalfPatchedTree();

        File.Delete(Path.Combine(SeriesDir, "0002-init-stale-context.patch"));
        AssertSucceeds(Run("Patch"));
        AssertNoHalfPatchedTree();
    }

    [TestCase("0002-notes.patch", "just some notes about the next release\n")]
    [TestCase("0002-headers-only.patch", null)]
    public void FileThatIsNotAPatch(string name, string? content)
    {
        // Plain text, and a format-patch header with no diff under it: both refused before anything is applied.
        File.WriteAllText(Path.Combine(SeriesDir, name), content ?? FormatPatch("headers only", "garbage that is no diff\n"));
        var run = Run("Patch");
        AssertFails(run, 2, name, "not a patch", "git format-patch");
        AssertNoHalfPatchedTree();

        File.Delete(Path.Combine(SeriesDir, name));
        AssertSucceeds(Run("Patch"));
    }

    /// <summary>A git diff creating the symlink <paramref name="path"/> -> <paramref name="target"/> (mode 120000).</summary>
    private static string SymlinkDiff(string path, string target) =>
        $"diff --git a/{path} b/{path}\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/{path}\n" +
        $"@@ -0,0 +1 @@\n+{target}\n\\ No newline at end of file\n";

    [TestCase("init/kiln-etc", "/etc", "init/kiln-etc")]
    [TestCase("init/kiln-up", "../..", "init/kiln-up")]
    [TestCase("init/kiln-b", "..", "kiln-a")] // with kiln-a -> init/kiln-b/..: each passes a lexical check, together they leave the tree
    public void PatchCreatingASymlinkOutOfTheTree(string link, string target, string refused)
    {
        var diff = SymlinkDiff(link, target) + (refused == "kiln-a" ? SymlinkDiff("kiln-a", "init/kiln-b/..") : "");
        File.WriteAllText(Path.Combine(SeriesDir, "0002-init-link.patch"), FormatPatch("init: a link", diff));
        var run = Run("Patch");
        AssertFails(run, 2, "0002-init-link.patch", $"refuses to create the symlink '{refused}'", "points outside the source tree");
        AssertNoHalfPatchedTree();

        File.Delete(Path.Combine(SeriesDir, "0002-init-link.patch"));
        AssertSucceeds(Run("Patch"));
    }

    /// <summary>
    /// --source=PATH without git: a second tree of the same version, or an edit, has the same recorded identity.
    /// Neither the patched copy nor a cached kernel may be reused on the strength of it.
    /// </summary>
    [Test]
    public void LocalTreeIsPatchedAfreshAndNotLookedUpInTheCache()
    {
        var tree = _scratch.Dir("local-tree-" + Guid.NewGuid().ToString("N")[..6]);
        File.WriteAllText(Path.Combine(tree, "Makefile"), "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\n");
        File.WriteAllText(Path.Combine(tree, "Kconfig"), "mainmenu \"Linux\"\n");
        Directory.CreateDirectory(Path.Combine(tree, "init"));
        File.WriteAllText(Path.Combine(tree, "init", "main.c"), "int main(void)\n{\n\tbanner();\n\treturn 0;\n}\n");
        foreach (var patch in Directory.GetFiles(SeriesDir)) File.Delete(patch);
        File.WriteAllText(Path.Combine(SeriesDir, "0001-init-hello.patch"), FormatPatch("init: hello",
            "diff --git a/init/main.c b/init/main.c\n--- a/init/main.c\n+++ b/init/main.c\n" +
            "@@ -2,4 +2,5 @@\n {\n \tbanner();\n+\thello();\n \treturn 0;\n }\n"));
        HostRun Patch() => ReliabilityHost.Run(new[] { "--target=Patch", "--kernel=6.1", "--source=" + tree, "--cache-dir=" + _cache }, _inputs);

        var first = Patch();
        AssertSucceeds(first);
        Assert.That(first.Output, Does.Contain("not looking it up in the kernel cache"));
        var patched = Path.Combine(_cache, "work", "6.1.192-x86_64", "linux");
        Assert.That(File.ReadAllText(Path.Combine(patched, "init", "main.c")), Does.Contain("hello();"));

        // An edit the way editors save (a new file), then the same command: the edit must reach the patched copy.
        var main = Path.Combine(tree, "init", "main.c");
        File.WriteAllText(main + ".new", "int main(void)\n{\n\tbanner();\n\treturn 0;\n}\n/* edited */\n");
        File.Move(main + ".new", main, overwrite: true);
        var second = Patch();
        AssertSucceeds(second);
        Assert.That(second.Output, Does.Not.Contain("already applied"));
        Assert.That(File.ReadAllText(Path.Combine(patched, "init", "main.c")), Does.Contain("/* edited */").And.Contain("hello();"));
        Assert.That(File.ReadAllText(main), Does.Not.Contain("hello();"), "the user's tree must not be patched");
    }

    [Test]
    public void FragmentWithMisspelledAndDroppedOptions()
    {
        File.WriteAllText(Path.Combine(_inputs, "configs", "fragments", "common", "zz-broken.conf"),
            "# Reliability test: a typo and an option whose dependency is off\nCONFIG_VIRTIO_BLKK=y\nCONFIG_KPROBES=y\n");
        var run = Run("Configure");
        AssertFails(run, 1, "CONFIG_VIRTIO_BLKK=y", "common/zz-broken.conf", "did you mean CONFIG_VIRTIO_BLK", "CONFIG_KPROBES=y", "depends on");

        File.Delete(Path.Combine(_inputs, "configs", "fragments", "common", "zz-broken.conf"));
        AssertSucceeds(Run("Configure"));
    }
}

/// <summary>
/// Fails the fixture if anything wrote into the shared pristine source tree (a patch applied through a link,
/// a marker file): every later test and developer would inherit it.
/// </summary>
public sealed class SharedTreeGuard
{
    private readonly string _tree = TestKernel.SourceTree;
    private readonly string _mainC;

    public SharedTreeGuard() => _mainC = Sha(Path.Combine(_tree, "init", "main.c"));

    private static string Sha(string path) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));

    public void AssertUntouched()
    {
        Assert.That(File.Exists(Path.Combine(_tree, ".kiln-patches")), Is.False, "a patch marker was written into the shared pristine tree");
        Assert.That(Sha(Path.Combine(_tree, "init", "main.c")), Is.EqualTo(_mainC), "the shared pristine tree's init/main.c changed");
    }
}
