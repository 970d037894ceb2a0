using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Patches;
using Kiln.Kernel.Sources;
using Kiln.Kernel.Versions;

namespace Kiln.Tests.Bisect;

/// <summary>Range checks, the driver and the patch-series history on tiny git repositories: no kernel is built.</summary>
[Platform("Unix")]
public sealed class BisectRepositoryTests
{
    private const string Makefile = "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\n";
    private string _root = "";

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("kiln-bisect-unit").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    /// <summary>A fake kernel tree: base, then commits 1..n where commit <paramref name="firstBad"/> and later say "bad" in state.</summary>
    private (GitFixture Repo, List<string> Commits) FakeKernel(int n, int firstBad, string name = "linux")
    {
        var repo = GitFixture.Init(Path.Combine(_root, name));
        var commits = new List<string> { repo.Commit("base", ("Makefile", Makefile), ("Kconfig", "# kconfig\n"), ("state", "good\n")) };
        for (var i = 1; i <= n; i++)
            commits.Add(repo.Commit($"change {i}", ("state", i >= firstBad ? $"bad {i}\n" : $"good {i}\n")));
        return (repo, commits);
    }

    private static KilnException BadInput(TestDelegate action)
    {
        var e = Assert.Throws<KilnException>(action)!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput), e.Message);
        return e;
    }

    [Test]
    public void A_range_of_a_kernel_repository_resolves_with_its_version_and_size()
    {
        var (repo, commits) = FakeKernel(5, 3);
        var range = BisectRange.Resolve(repo.Directory, commits[0][..10], "main", new RecordingLog());
        Assert.That(range.Good.Sha, Is.EqualTo(commits[0]));
        Assert.That(range.Bad.Sha, Is.EqualTo(commits[5]));
        Assert.That(range.Bad.Subject, Is.EqualTo("change 5"));
        Assert.That(range.Bad.Author, Is.EqualTo("Kiln <kiln@localhost>"));
        Assert.That(range.Commits, Is.EqualTo(5));
        Assert.That(range.Version, Is.EqualTo(new KernelVersion(6, 1, 192)));
    }

    [Test]
    public void Errors_are_bad_input_that_say_what_is_wrong()
    {
        var (repo, commits) = FakeKernel(2, 2);
        var log = new RecordingLog();
        Assert.That(BadInput(() => BisectRange.Resolve(Path.Combine(_root, "missing"), "a", "b", log)).Message, Does.Contain("no such directory"));
        var plain = Directory.CreateDirectory(Path.Combine(_root, "plain")).FullName;
        Assert.That(BadInput(() => BisectRange.Resolve(plain, "a", "b", log)).Message, Does.Contain("not a git repository"));
        Assert.That(BadInput(() => BisectRange.Resolve(repo.Directory, "v9.9", "main", log)).Message, Does.Contain("--good=v9.9: no such commit"));
        Assert.That(BadInput(() => BisectRange.Resolve(repo.Directory, commits[0], "--exec=boom", log)).Message, Does.Contain("--bad=--exec=boom: no such commit"));
        Assert.That(BadInput(() => BisectRange.Resolve(repo.Directory, "main", "main", log)).Message, Does.Contain("same commit"));
        Assert.That(BadInput(() => BisectRange.Resolve(repo.Directory, "main", commits[0], log)).Message, Does.Contain("is not an ancestor of --bad"));
    }

    [Test]
    public void A_repository_that_is_not_a_kernel_tree_is_refused()
    {
        var repo = GitFixture.Init(Path.Combine(_root, "tool"));
        var first = repo.Commit("one", ("README", "not a kernel\n"));
        repo.Commit("two", ("README", "still not a kernel\n"), ("Makefile", "all:\n"));
        var e = BadInput(() => BisectRange.Resolve(repo.Directory, first, "main", new RecordingLog()));
        Assert.That(e.Message, Does.Contain("not a kernel tree").And.Contain("Makefile or Kconfig"));
    }

    private string WorktreePath => Path.Combine(_root, "work", "worktree");

    private BisectJob Job(GitFixture repo, string good, string script, string bad = "main") =>
        new(BisectRange.Resolve(repo.Directory, good, bad, new RecordingLog()), WorktreePath, Path.Combine(_root, "locks", "bisect.lock"),
            ["sh", "-c", script], new Dictionary<string, string>(), Path.Combine(_root, "out", "steps.jsonl"));

    /// <summary>The worktree stays for the next bisect, with no bisect in progress in it.</summary>
    private void AssertKeptIdle()
    {
        Assert.That(File.Exists(Path.Combine(WorktreePath, ".git")), Is.True, "the worktree is kept");
        Assert.That(new Git(WorktreePath, new RecordingLog()).Try("bisect", "log").ExitCode, Is.Not.EqualTo(0), "no bisect is left in progress in it");
    }

    [Test]
    public void The_driver_finds_the_first_bad_commit_in_a_worktree_and_leaves_the_repository_as_it_was()
    {
        var (repo, commits) = FakeKernel(7, 5);
        File.WriteAllText(Path.Combine(repo.Directory, "untracked.txt"), "the user's work in progress\n");
        var before = repo.State();

        var outcome = new BisectDriver(new RecordingLog()).Run(Job(repo, commits[0], "grep -q good state"));

        Assert.That(outcome.Status, Is.EqualTo(BisectStatus.Found));
        Assert.That(outcome.FirstBad!.Sha, Is.EqualTo(commits[5]));
        Assert.That(outcome.FirstBad.Subject, Is.EqualTo("change 5"));
        Assert.That(outcome.Log, Has.Some.StartsWith("# first bad commit: [" + commits[5]));
        Assert.That(outcome.Log.Count(l => l.StartsWith("git bisect good") || l.StartsWith("git bisect bad")),
            Is.LessThanOrEqualTo(BisectBound.MaxDecidingSteps(7)));
        Assert.That(repo.State(), Is.EqualTo(before));
        AssertKeptIdle();
    }

    [Test]
    public void Verifying_the_bad_end_first_reports_a_range_without_a_failure()
    {
        var (repo, commits) = FakeKernel(3, 4);
        var outcome = new BisectDriver(new RecordingLog()).Run(Job(repo, commits[0], "grep -q good state") with { VerifyBad = true });
        Assert.That(outcome.Status, Is.EqualTo(BisectStatus.BadEndIsGood));
        AssertKeptIdle();

        var (failing, failingCommits) = FakeKernel(1, 1, "failing");
        outcome = new BisectDriver(new RecordingLog()).Run(Job(failing, failingCommits[0], "grep -q good state") with { VerifyBad = true });
        Assert.That(outcome.Status, Is.EqualTo(BisectStatus.Found), "a one-commit range is decided by the verification");
        Assert.That(outcome.FirstBad!.Sha, Is.EqualTo(failingCommits[1]));
    }

    [Test]
    public void A_step_that_aborts_stops_the_bisect_and_the_worktree_is_still_removed()
    {
        var (repo, commits) = FakeKernel(4, 2);
        var before = repo.State();
        var outcome = new BisectDriver(new RecordingLog()).Run(Job(repo, commits[0], "exit 255"));
        Assert.That(outcome.Status, Is.EqualTo(BisectStatus.Aborted));
        Assert.That(outcome.Problem, Does.Contain("git bisect run exited"));
        Assert.That(repo.State(), Is.EqualTo(before));
        AssertKeptIdle();
    }

    [Test]
    public void Only_skipped_commits_left_gives_the_candidates()
    {
        var (repo, commits) = FakeKernel(3, 2);
        var outcome = new BisectDriver(new RecordingLog()).Run(Job(repo, commits[0], "exit 125"));
        Assert.That(outcome.Status, Is.EqualTo(BisectStatus.Inconclusive));
        Assert.That(outcome.Candidates.Select(c => c.Sha), Is.EquivalentTo(commits.Skip(1)));
    }

    [Test]
    public void Cancelling_kills_the_step_and_cleans_up()
    {
        var (repo, commits) = FakeKernel(4, 2);
        var before = repo.State();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        Assert.That(() => new BisectDriver(new RecordingLog()).Run(Job(repo, commits[0], "sleep 60"), cancellation.Token),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(repo.State(), Is.EqualTo(before));
        AssertKeptIdle();
    }

    [Test]
    public void A_patch_series_becomes_one_commit_per_patch_on_the_untouched_tree()
    {
        // The patches come from git format-patch on a scratch copy of the tree.
        var scratch = GitFixture.Init(Path.Combine(_root, "scratch"));
        scratch.Commit("base", ("Makefile", Makefile), ("Kconfig", "# kconfig\n"), ("init/main.c", "int main;\n"));
        scratch.Commit("init: first change", ("init/main.c", "int main;\nint one;\n"));
        scratch.Commit("init: second change", ("init/main.c", "int main;\nint one;\nint two;\n"));
        var seriesDir = Directory.CreateDirectory(Path.Combine(_root, "patches", "6.1.x")).FullName;
        scratch.Run("format-patch", "--quiet", "-o", seriesDir, "HEAD~2");

        var tree = Directory.CreateDirectory(Path.Combine(_root, "tree")).FullName;
        File.WriteAllText(Path.Combine(tree, "Makefile"), Makefile);
        File.WriteAllText(Path.Combine(tree, "Kconfig"), "# kconfig\n");
        Directory.CreateDirectory(Path.Combine(tree, "init"));
        File.WriteAllText(Path.Combine(tree, "init", "main.c"), "int main;\n");
        var provenance = new SourceProvenance("test", "6.1.192", tree, new string('c', 64));
        provenance.WriteTo(tree);
        var source = VerifiedSource.Unpacked(new SourceTree(tree, new KernelVersion(6, 1, 192), provenance, Reused: true));

        var series = PatchSeries.Load(seriesDir);
        var repository = PatchSeriesRepository.Create(source, series, Path.Combine(_root, "series"), new RecordingLog());
        var git = new GitFixture(repository);
        Assert.That(git.Run("log", "--format=%s|%an", PatchSeriesRepository.Branch).Split('\n'),
            Is.EqualTo(new[] { "init: second change|Kiln", "init: first change|Kiln", "Linux 6.1.192 (test)|Kiln" }));
        Assert.That(git.Run("show", PatchSeriesRepository.Branch + ":init/main.c"), Is.EqualTo("int main;\nint one;\nint two;"));
        Assert.That(git.Run("ls-tree", "--name-only", PatchSeriesRepository.Branch + "~2"), Does.Not.Contain(SourceProvenance.FileName));
        Assert.That(Directory.GetFiles(tree, "*", SearchOption.AllDirectories), Has.Length.EqualTo(4), "the source tree is not written to");

        var worktree = Path.Combine(_root, "series-worktree");
        git.Run("worktree", "add", "--detach", "--quiet", worktree, PatchSeriesRepository.Branch + "~1");
        Assert.That(PatchSeriesRepository.AppliedPatches(new Git(worktree, new RecordingLog())), Is.EqualTo(new[] { series.Patches[0].FileName }));

        var range = BisectRange.Resolve(repository, PatchSeriesRepository.Branch + "~2", PatchSeriesRepository.Branch, new RecordingLog());
        Assert.That(range.Commits, Is.EqualTo(2));
        var notExtracted = VerifiedSource.Packed(source.Version, provenance, () => throw new AssertionException("an existing history needs no tree"));
        Assert.That(PatchSeriesRepository.Create(notExtracted, series, Path.Combine(_root, "series"), new RecordingLog()), Is.EqualTo(repository), "reused");
    }
}
