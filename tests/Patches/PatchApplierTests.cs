using System.Runtime.Versioning;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Patches;
using NUnit.Framework;

namespace Kiln.Tests.Patches;

// Kernel trees are patched with GNU cp/patch on Linux hosts (and in Linux containers on other hosts).
[UnsupportedOSPlatform("windows")]
public class PatchApplierTests
{
    private PatchFixtures _fx = null!;
    private RecordingLog _log = null!;

    [SetUp]
    public void SetUp()
    {
        _fx = new PatchFixtures();
        _log = new RecordingLog();
    }

    [TearDown] public void TearDown() => _fx.Dispose();

    private string WorkTree => Path.Combine(_fx.WorkRoot, "linux");

    private PatchedTree Apply() => new PatchApplier(_log).Apply(PatchSeries.Load(_fx.SeriesDir), _fx.Pristine, WorkTree);

    private string PristineMain => Path.Combine(_fx.Pristine, "init", "main.c");

    [Test]
    public void EmptySeriesOnAUsersTreeBuildsThatTree()
    {
        var tree = new PatchApplier(_log).Apply(PatchSeries.Load(_fx.SeriesDir), _fx.Pristine, WorkTree, pristineMayChange: true);

        Assert.That(tree.Path, Is.EqualTo(_fx.Pristine));
        Assert.That(tree.Applied, Is.Empty);
        Assert.That(Directory.Exists(_fx.WorkRoot), Is.False);
    }

    [Test]
    public void EmptySeriesOnTheSourceCacheGivesAHardLinkedWorkingTree()
    {
        // Built from the same path as a patched series, so adding the first patch does not rebuild everything.
        var tree = Apply();

        Assert.That(tree.Path, Is.EqualTo(WorkTree));
        Assert.That(tree.Applied, Is.Empty);
        Assert.That(Inode(Path.Combine(tree.Path, "init", "main.c")), Is.EqualTo(Inode(PristineMain)));
    }

    [Test]
    public void AppliesInOrderIntoANewTreeAndRecordsTheSeries()
    {
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff("\tfirst();")));
        // Applies only on top of 0001: its context contains the line 0001 adds.
        _fx.Write("0002-b.patch", PatchFixtures.FormatPatch(
            "--- a/init/main.c\n+++ b/init/main.c\n@@ -3,4 +3,5 @@\n \tbanner();\n \tfirst();\n+\tsecond();\n \treturn 0;\n }\n"));
        var series = PatchSeries.Load(_fx.SeriesDir);

        var tree = Apply();

        Assert.Multiple(() =>
        {
            Assert.That(tree.Path, Is.EqualTo(WorkTree));
            Assert.That(tree.Reused, Is.False);
            Assert.That(File.ReadAllText(Path.Combine(tree.Path, "init", "main.c")),
                Is.EqualTo("int main(void)\n{\n\tbanner();\n\tfirst();\n\tsecond();\n\treturn 0;\n}\n"));
            Assert.That(TreeState.Read(tree.Path)?.Applied, Is.EqualTo(series.Patches.Select(p => new AppliedPatch(p.FileName, p.Sha256))));
            Assert.That(File.ReadAllText(Path.Combine(tree.Path, "Makefile")), Does.StartWith("VERSION = 6"));
            Assert.That(Directory.GetDirectories(_fx.WorkRoot), Is.EqualTo(new[] { tree.Path }), "no staging tree left behind");
        });
    }

    [Test]
    public void PristineTreeIsUntouched()
    {
        var untouched = Path.Combine(_fx.Pristine, "Makefile");
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));

        var tree = Apply();

        Assert.That(File.ReadAllText(PristineMain), Is.EqualTo(PatchFixtures.MainC));
        Assert.That(File.ReadAllText(Path.Combine(tree.Path, "init", "main.c")), Is.Not.EqualTo(PatchFixtures.MainC));
        Assert.That(File.Exists(Path.Combine(_fx.Pristine, WorkingTree.MarkerFileName)), Is.False);
        // Untouched files stay hard links, so the copy is cheap; editing one in place would reach the cache.
        Assert.That(Inode(Path.Combine(tree.Path, "Makefile")), Is.EqualTo(Inode(untouched)));
        Assert.That(Inode(Path.Combine(tree.Path, "init", "main.c")), Is.Not.EqualTo(Inode(PristineMain)));
    }

    [Test]
    public void PristineTreeReachedThroughASymlinkIsUntouched()
    {
        // --source=~/linux where ~/linux links to the real tree (or a cache whose tree is a link).
        var link = _fx.Pristine + "-link";
        Directory.CreateSymbolicLink(link, _fx.Pristine);
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));

        var tree = new PatchApplier(_log).Apply(PatchSeries.Load(_fx.SeriesDir), link, WorkTree);

        Assert.That(new DirectoryInfo(tree.Path).LinkTarget, Is.Null, "the patched tree must be a copy, not a link");
        Assert.That(File.ReadAllText(PristineMain), Is.EqualTo(PatchFixtures.MainC));
        Assert.That(File.Exists(Path.Combine(_fx.Pristine, WorkingTree.MarkerFileName)), Is.False);
        Assert.That(File.ReadAllText(Path.Combine(tree.Path, "init", "main.c")), Is.Not.EqualTo(PatchFixtures.MainC));
    }

    [Test]
    public void RerunWithTheSameSeriesReusesTheTreeAndAppliesNothing()
    {
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));
        var first = Apply();
        _log = new RecordingLog();

        var second = Apply();

        Assert.That(second.Path, Is.EqualTo(first.Path));
        Assert.That(second.Reused);
        Assert.That(_log.Lines, Has.None.Contains("$ patch").And.None.Contains("$ cp"));
        Assert.That(_log.Lines, Has.Some.Contains("reusing"));
    }

    [Test]
    public void ChangedSeriesSwitchesTheSameTree()
    {
        var path = _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff("\tone();")));
        var first = Apply();
        File.WriteAllText(path, PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff("\ttwo();")));

        var second = Apply();

        Assert.That(second.Path, Is.EqualTo(first.Path));
        Assert.That(second.Reused, Is.False);
        Assert.That(File.ReadAllText(Path.Combine(second.Path, "init", "main.c")), Does.Contain("two();").And.Not.Contain("one();"));
        Assert.That(_log.Lines, Has.Some.Contains("Switched"));
    }

    [Test]
    public void DifferentSourceIdentityMakesTheTreeAgain()
    {
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));
        var series = PatchSeries.Load(_fx.SeriesDir);
        var applier = new PatchApplier(_log);

        var atCommitA = applier.Apply(series, _fx.Pristine, WorkTree, sourceIdentity: "commit-a");
        var atCommitB = applier.Apply(series, _fx.Pristine, WorkTree, sourceIdentity: "commit-b");

        Assert.That(atCommitB.Path, Is.EqualTo(atCommitA.Path));
        Assert.That(atCommitB.Reused, Is.False);
        Assert.That(atCommitB.ObjectsMayBeStale, Is.True, "another source differs in files whose mtimes can be older than the objects");
        Assert.That(TreeState.Read(WorkTree)!.SourceIdentity, Is.EqualTo("commit-b"));
    }

    [Test]
    public void TreeWhoseMarkerWasEditedIsMadeAgain()
    {
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));
        var first = Apply();
        File.WriteAllText(Path.Combine(first.Path, WorkingTree.MarkerFileName), "0001-a.patch\tdeadbeef\n");

        var second = Apply();

        Assert.That(second.Path, Is.EqualTo(first.Path));
        Assert.That(second.Reused, Is.False);
        Assert.That(second.ObjectsMayBeStale, Is.True, "nothing says what the tree held: its objects cannot be trusted");
        Assert.That(TreeState.Read(second.Path)!.Applied.Single().Sha256, Is.Not.EqualTo("deadbeef"));
    }

    [Test]
    public void HunkWhoseContextDoesNotMatchIsNotAppliedWithFuzz()
    {
        // GNU patch's default fuzz (2) drops this hunk's outer context lines and inserts the line after
        // "banner();" although neither neighbour matches: code in a place nobody reviewed.
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(
            "--- a/init/main.c\n+++ b/init/main.c\n@@ -2,4 +2,5 @@\n {\n \tbanner();\n+\tadded();\n \treturn 1;\n }\n"));

        var e = Assert.Throws<PatchApplyException>(() => Apply());

        Assert.That(e!.Message, Does.Contain("0001-a.patch").And.Contain("init/main.c").And.Contain("hunk #1 FAILED"));
        Assert.That(Directory.Exists(_fx.WorkRoot) ? Directory.GetDirectories(_fx.WorkRoot) : [], Is.Empty);
    }

    [Test]
    public void FailingPatchNamesPatchFileAndHunkAndLeavesNoTree()
    {
        _fx.Write("0001-good.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));
        var bad = _fx.Write("0002-bad.patch", PatchFixtures.FormatPatch(PatchFixtures.ConflictingDiff()));

        var e = Assert.Throws<PatchApplyException>(() => Apply());

        Assert.Multiple(() =>
        {
            Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.KernelFailed));
            Assert.That(e.Patch.FullPath, Is.EqualTo(bad));
            Assert.That(e.Failures, Is.EqualTo(new[] { new PatchHunkFailure("init/main.c", 1, 1, "Hunk #1 FAILED at 1.") }));
            Assert.That(e.Message, Does.Contain("0002-bad.patch").And.Contain("init/main.c: hunk #1 FAILED at line 1"));
            Assert.That(Directory.GetFileSystemEntries(_fx.WorkRoot), Is.Empty, "no final or staging tree left");
            Assert.That(File.ReadAllText(PristineMain), Is.EqualTo(PatchFixtures.MainC));
        });
    }

    [Test]
    public void PatchForAFileTheTreeDoesNotHaveNamesThatFile()
    {
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff().Replace("init/main.c", "init/missing.c")));

        var e = Assert.Throws<PatchApplyException>(() => Apply());

        Assert.That(e!.Failures.Single(), Is.EqualTo(new PatchHunkFailure("init/missing.c", null, null, "file not found in the source tree")));
    }

    [Test]
    public void PatchAlreadyInTheTreeIsReportedAsAlreadyApplied()
    {
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));
        _fx.Write("0002-again.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));

        var e = Assert.Throws<PatchApplyException>(() => Apply());

        Assert.That(e!.Patch.FileName, Is.EqualTo("0002-again.patch"));
        Assert.That(e.Failures.Single().Reason, Does.Contain("already applied"));
        Assert.That(e.Failures.Single().File, Is.EqualTo("init/main.c"));
    }

    [Test]
    public void PatchReachingOutsideTheTreeIsRefused()
    {
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff().Replace("init/main.c", "../linux-6.1.192/init/main.c")));

        var e = Assert.Throws<KilnException>(() => Apply());

        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(File.ReadAllText(PristineMain), Is.EqualTo(PatchFixtures.MainC));
    }

    /// <summary>A git diff creating the symlink <paramref name="path"/> with <paramref name="target"/>.</summary>
    private static string SymlinkDiff(string path, string target) =>
        $"diff --git a/{path} b/{path}\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/{path}\n" +
        $"@@ -0,0 +1 @@\n+{target}\n\\ No newline at end of file\n";

    [TestCase("init/etc", "/etc")]
    [TestCase("init/up", "../..")]
    [TestCase("init/up", "../../../linux-6.1.192/init")]
    public void PatchCreatingASymlinkOutOfTheTreeIsRefused(string link, string target)
    {
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(SymlinkDiff(link, target)));

        var e = Assert.Throws<KilnException>(() => Apply());

        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain($"0001-a.patch:").And.Contain($"'{link}' -> '{target}', which points outside the source tree"));
        Assert.That(Directory.Exists(_fx.WorkRoot) ? Directory.GetFileSystemEntries(_fx.WorkRoot) : [], Is.Empty, "a staging tree was left");
    }

    [Test]
    public void TwoSymlinksThatChainOutOfTheTreeAreRefused()
    {
        // Each passes the lexical check; together a resolves to the tree's parent.
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(SymlinkDiff("init/b", "..") + SymlinkDiff("a", "init/b/..")));

        var e = Assert.Throws<KilnException>(() => Apply());

        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("'a' -> 'init/b/..'"));
    }

    [Test]
    public void PatchCreatingASymlinkInsideTheTreeApplies()
    {
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(SymlinkDiff("init/main-link.c", "main.c")));

        var tree = Apply();

        Assert.That(new FileInfo(Path.Combine(tree.Path, "init", "main-link.c")).LinkTarget, Is.EqualTo("main.c"));
    }

    [Test]
    public void MissingPristineTreeIsBadInput()
    {
        var e = Assert.Throws<KilnException>(() =>
            new PatchApplier(_log).Apply(PatchSeries.Load(_fx.SeriesDir), Path.Combine(_fx.Root, "nope"), WorkTree));
        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
    }

    [Test]
    public void StagingTreeOfAKilledRunIsRemoved()
    {
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));
        var name = Path.GetFileName(Apply().Path);
        Directory.Delete(Path.Combine(_fx.WorkRoot, name), recursive: true);
        // No process has pid int.MaxValue, so this looks like the leftover of a run that was killed.
        var abandoned = Path.Combine(_fx.WorkRoot, $".{name}.tmp-{int.MaxValue}-0badf00d");
        Directory.CreateDirectory(Path.Combine(abandoned, "init"));

        Apply();

        Assert.That(Directory.Exists(abandoned), Is.False);
    }

    [Test]
    public void PatchedFileKeepsItsMode()
    {
        var script = Path.Combine(_fx.Pristine, "init", "main.c");
        File.SetUnixFileMode(script, File.GetUnixFileMode(script) | UnixFileMode.UserExecute);
        _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));

        var tree = Apply();

        Assert.That(File.GetUnixFileMode(Path.Combine(tree.Path, "init", "main.c")), Is.EqualTo(File.GetUnixFileMode(script)));
    }

    [Test]
    public void ParsesGnuPatchReports()
    {
        const string output =
            "checking file init/main.c\nHunk #1 succeeded at 940 (offset 9 lines).\nHunk #2 FAILED at 1502.\n1 out of 2 hunks FAILED\n" +
            "checking file mm/new.c (renamed from mm/old.c)\nHunk #3 FAILED at 7 (different line endings).\n";

        Assert.That(PatchApplier.ParseFailures(output), Is.EqualTo(new[]
        {
            new PatchHunkFailure("init/main.c", 2, 1502, "Hunk #2 FAILED at 1502."),
            new PatchHunkFailure("mm/new.c", 3, 7, "Hunk #3 FAILED at 7 (different line endings)."),
        }));
    }

    private static long Inode(string path) => InodeOf(path);

    internal static long InodeOf(string path) =>
        long.Parse(new Kiln.Kernel.Processes.Command("stat", "-c", "%i", path).Run(new RecordingLog()).StandardOutput.Trim());
}
