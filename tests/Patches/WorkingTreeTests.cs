using System.Runtime.Versioning;
using System.Security.Cryptography;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Patches;
using NUnit.Framework;

namespace Kiln.Tests.Patches;

/// <summary>
/// One working tree switched between patch series: what make sees (which files change, and their mtimes) and that the
/// result is always what a clean apply of the series gives.
/// </summary>
[UnsupportedOSPlatform("windows")]
public class WorkingTreeTests
{
    private PatchFixtures _fx = null!;
    private RecordingLog _log = null!;
    private static readonly DateTime Old = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    [SetUp]
    public void SetUp()
    {
        _fx = new PatchFixtures();
        _log = new RecordingLog();
        Directory.CreateDirectory(Path.Combine(_fx.Pristine, "kernel"));
        File.WriteAllText(Path.Combine(_fx.Pristine, "kernel", "sys.c"), SysC);
        // The pristine source predates every build, as a real cached source does.
        foreach (var file in Directory.GetFiles(_fx.Pristine, "*", SearchOption.AllDirectories)) File.SetLastWriteTimeUtc(file, Old);
    }

    [TearDown] public void TearDown() => _fx.Dispose();

    private const string SysC = "long sys(void)\n{\n\treturn 0;\n}\n";

    private string WorkTree => Path.Combine(_fx.WorkRoot, "linux");

    private PatchedTree Apply(string? tree = null) => new PatchApplier(_log).Apply(PatchSeries.Load(_fx.SeriesDir), _fx.Pristine, tree ?? WorkTree);

    private static string SysDiff(string added) =>
        "diff --git a/kernel/sys.c b/kernel/sys.c\n--- a/kernel/sys.c\n+++ b/kernel/sys.c\n@@ -1,4 +1,5 @@\n long sys(void)\n {\n+" + added +
        "\n \treturn 0;\n }\n";

    private static string NewFileDiff(string path, string line) =>
        $"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+{line}\n";

    private string Write(string name, string diff) => _fx.Write(name, PatchFixtures.FormatPatch(diff));

    private static void Clear(string dir)
    {
        if (Directory.Exists(dir)) foreach (var f in Directory.GetFiles(dir)) File.Delete(f);
    }

    [Test]
    public void EditingOnePatchRewritesOnlyTheFileItChanges()
    {
        Write("0001-main.patch", PatchFixtures.AddLineDiff("\tone();"));
        var sys = Write("0002-sys.patch", SysDiff("\tfirst();"));
        Apply();
        var main = Path.Combine(WorkTree, "init", "main.c");
        var (inode, mtime) = (Inode(main), File.GetLastWriteTimeUtc(main));
        var makefile = Inode(Path.Combine(WorkTree, "Makefile"));
        Thread.Sleep(20);
        File.WriteAllText(sys, PatchFixtures.FormatPatch(SysDiff("\tsecond();")));

        var switched = Apply();

        Assert.That(switched.Reused, Is.False);
        Assert.That(File.ReadAllText(Path.Combine(WorkTree, "kernel", "sys.c")), Does.Contain("second();").And.Not.Contain("first();"));
        Assert.That(File.GetLastWriteTimeUtc(Path.Combine(WorkTree, "kernel", "sys.c")), Is.GreaterThan(mtime));
        Assert.That(Inode(main), Is.EqualTo(inode), "init/main.c has the same bytes under both series: make must not see it change");
        Assert.That(File.GetLastWriteTimeUtc(main), Is.EqualTo(mtime));
        Assert.That(Inode(Path.Combine(WorkTree, "Makefile")), Is.EqualTo(makefile));
        Assert.That(_log.Lines, Has.Some.Contains("1 of 2 touched file(s) changed"));
    }

    [Test]
    public void DroppingAPatchRestoresThePristineBytesWithANewMtime()
    {
        Write("0001-main.patch", PatchFixtures.AddLineDiff("\tone();"));
        Apply();
        Clear(_fx.SeriesDir);

        Apply();

        var main = Path.Combine(WorkTree, "init", "main.c");
        Assert.That(File.ReadAllText(main), Is.EqualTo(PatchFixtures.MainC));
        // A hard link to the pristine file would carry its old mtime, older than the object built from the patched
        // bytes, and make would keep that object.
        Assert.That(File.GetLastWriteTimeUtc(main), Is.GreaterThan(Old));
        Assert.That(Inode(main), Is.Not.EqualTo(Inode(Path.Combine(_fx.Pristine, "init", "main.c"))));
    }

    [Test]
    public void EverySwitchGivesWhatACleanApplyGives()
    {
        var series = new (string Name, string Diff)[][]
        {
            [("0001-main.patch", PatchFixtures.AddLineDiff("\tone();")), ("0002-new.patch", NewFileDiff("drivers/kiln/new.c", "int kiln;"))],
            [("0001-main.patch", PatchFixtures.AddLineDiff("\ttwo();"))],
            [("0001-sys.patch", SysDiff("\tthree();")), ("0002-new.patch", NewFileDiff("init/extra.c", "int extra;"))],
            [],
            [("0001-main.patch", PatchFixtures.AddLineDiff("\tone();")), ("0002-new.patch", NewFileDiff("drivers/kiln/new.c", "int kiln;"))],
        };
        var step = 0;
        foreach (var patches in series)
        {
            Clear(_fx.SeriesDir);
            foreach (var (name, diff) in patches) Write(name, diff);
            Apply();
            var clean = Path.Combine(_fx.Root, $"clean-{step++}", "linux");
            Apply(clean);

            Assert.That(Snapshot(WorkTree), Is.EqualTo(Snapshot(clean)), $"after switching to series {step}");
        }
        Assert.That(Directory.Exists(Path.Combine(WorkTree, "drivers", "kiln")), Is.True);
    }

    [Test]
    public void SwitchThatWasKilledIsRedoneFromThePristineSource()
    {
        Write("0001-main.patch", PatchFixtures.AddLineDiff("\tone();"));
        Apply();
        // What a SIGKILL in the middle of a switch leaves: the flag naming the paths, and one of them half-written.
        var main = Path.Combine(WorkTree, "init", "main.c");
        WorkingTree.BeginSwitch(WorkTree, ["init/main.c"]);
        File.WriteAllText(main, "int main(void)\n{\n");

        var repaired = Apply();

        Assert.That(repaired.Reused, Is.False);
        Assert.That(File.ReadAllText(main), Does.Contain("one();").And.EndWith("}\n"));
        Assert.That(WorkingTree.InterruptedSwitch(WorkTree), Is.Null);
        Assert.That(_log.Lines, Has.Some.Contains("half-switched"));
    }

    [Test]
    public void FileTheKilledSwitchRestoredGetsANewMtime()
    {
        Write("0001-main.patch", PatchFixtures.AddLineDiff("\tone();"));
        Apply();
        WorkingTree.BeginSwitch(WorkTree, ["init/main.c"]);
        Clear(_fx.SeriesDir);

        Apply();

        var main = Path.Combine(WorkTree, "init", "main.c");
        Assert.That(File.ReadAllText(main), Is.EqualTo(PatchFixtures.MainC));
        Assert.That(File.GetLastWriteTimeUtc(main), Is.GreaterThan(Old));
    }

    [Test]
    public void PatchThatDoesNotApplyLeavesTheTreeAsItWas()
    {
        Write("0001-main.patch", PatchFixtures.AddLineDiff("\tone();"));
        Apply();
        var before = Snapshot(WorkTree);
        Write("0002-bad.patch", PatchFixtures.ConflictingDiff());

        var e = Assert.Throws<PatchApplyException>(() => Apply());

        Assert.That(e!.Patch.FileName, Is.EqualTo("0002-bad.patch"));
        Assert.That(Snapshot(WorkTree), Is.EqualTo(before));
        Assert.That(WorkingTree.InterruptedSwitch(WorkTree), Is.Null);
        Assert.That(Directory.GetFileSystemEntries(_fx.WorkRoot), Is.EqualTo(new[] { WorkTree }), "no staging left");
    }

    [Test]
    public void ObjectsAreDiscardedWhenASymlinkChanges()
    {
        // make follows a link to its target, a pristine file older than every object: the change would go unseen.
        Write("0001-link.patch", "diff --git a/init/main-link.c b/init/main-link.c\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n" +
                                 "+++ b/init/main-link.c\n@@ -0,0 +1 @@\n+main.c\n\\ No newline at end of file\n");
        Apply();
        Clear(_fx.SeriesDir);
        var discarded = 0;

        var switched = new PatchApplier(_log).Apply(PatchSeries.Load(_fx.SeriesDir), _fx.Pristine, WorkTree, discardObjects: () => discarded++);

        Assert.That(discarded, Is.EqualTo(1));
        Assert.That(switched.ObjectsMayBeStale, Is.True);
        Assert.That(File.Exists(Path.Combine(WorkTree, "init", "main-link.c")), Is.False);
    }

    [Test]
    public void ObjectsAreDiscardedBeforeTheNewSourceIsRecorded()
    {
        Write("0001-main.patch", PatchFixtures.AddLineDiff("\tone();"));
        new PatchApplier(_log).Apply(PatchSeries.Load(_fx.SeriesDir), _fx.Pristine, WorkTree, sourceIdentity: "release-1");

        // A run killed while it empties the build directory (here: the discard fails) must leave the old source's
        // state, so that the next run finds the source changed again and discards again.
        Assert.Throws<IOException>(() => new PatchApplier(_log).Apply(PatchSeries.Load(_fx.SeriesDir), _fx.Pristine, WorkTree,
            sourceIdentity: "release-2", discardObjects: () => throw new IOException("killed")));
        Assert.That(TreeState.Read(WorkTree)!.SourceIdentity, Is.EqualTo("release-1"));

        var discarded = 0;
        new PatchApplier(_log).Apply(PatchSeries.Load(_fx.SeriesDir), _fx.Pristine, WorkTree, sourceIdentity: "release-2", discardObjects: () => discarded++);
        Assert.That(discarded, Is.EqualTo(1));
        Assert.That(TreeState.Read(WorkTree)!.SourceIdentity, Is.EqualTo("release-2"));
    }

    [Test]
    public void EditingCodeOnlyDiscardsNothing()
    {
        var path = Write("0001-main.patch", PatchFixtures.AddLineDiff("\tone();"));
        Apply();
        File.WriteAllText(path, PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff("\ttwo();")));
        var discarded = 0;

        new PatchApplier(_log).Apply(PatchSeries.Load(_fx.SeriesDir), _fx.Pristine, WorkTree, discardObjects: () => discarded++);

        Assert.That(discarded, Is.Zero);
    }

    /// <summary>Every path of a tree with its bytes' (or link target's) hash, the state file left out.</summary>
    private static Dictionary<string, string> Snapshot(string tree) =>
        Directory.GetFileSystemEntries(tree, "*", SearchOption.AllDirectories)
            .Where(p => Path.GetFileName(p) != WorkingTree.MarkerFileName)
            .ToDictionary(p => Path.GetRelativePath(tree, p), p =>
                new FileInfo(p).LinkTarget is { } link ? "-> " + link
                : Directory.Exists(p) ? "dir"
                : Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(p))) + " " + File.GetUnixFileMode(p));

    private static long Inode(string path) => PatchApplierTests.InodeOf(path);
}
