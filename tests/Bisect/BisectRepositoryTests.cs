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

    private string StepsFile => Path.Combine(_root, "out", "steps.jsonl");

    private BisectJob Job(GitFixture repo, string good, string script, string bad = "main") =>
        new(BisectRange.Resolve(repo.Directory, good, bad, new RecordingLog()), WorktreePath, Path.Combine(_root, "locks", "bisect.lock"),
            FakeStep.Command(script, StepsFile), new Dictionary<string, string>(), StepsFile);

    /// <summary>A fake kernel tree where each commit adds its own file and commit <paramref name="culprit"/> adds "broken": its revert applies on any later commit.</summary>
    private (GitFixture Repo, List<string> Commits) Additive(int n, int culprit, int? alsoBroken = null)
    {
        var repo = GitFixture.Init(Path.Combine(_root, "additive"));
        var commits = new List<string> { repo.Commit("base", ("Makefile", Makefile), ("Kconfig", "# kconfig\n")) };
        for (var i = 1; i <= n; i++)
            commits.Add(repo.Commit($"change {i}", i == culprit ? ("broken", "1\n") : i == alsoBroken ? ("broken-too", "1\n") : ($"c{i}", $"{i}\n")));
        return (repo, commits);
    }

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
        // Both ends first, then git's steps, then the revert check, which cannot apply: every later commit rewrites the line.
        Assert.That(outcome.BadEnd!.Number, Is.EqualTo(1));
        Assert.That(outcome.BadEnd.Sha, Is.EqualTo(commits[7]));
        Assert.That(outcome.GoodEnd!.Number, Is.EqualTo(2));
        Assert.That(outcome.GoodEnd.Sha, Is.EqualTo(commits[0]));
        Assert.That(outcome.Steps.Skip(2).Select(s => s.Role), Is.All.EqualTo(StepRole.Bisect));
        Assert.That(outcome.WithinBound, Is.True);
        Assert.That(outcome.Confirmation.Status, Is.EqualTo(ConfirmationStatus.NotConfirmed));
        Assert.That(outcome.Confirmation.Message, Does.StartWith("revert does not apply: ").And.Contain("could not revert"));
        var e = Assert.Throws<KilnException>(() => BisectSession.Conclude(outcome, new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.KernelFailed));
        Assert.That(e.Message, Does.Contain("not confirmed: revert does not apply"));
    }

    [Test]
    public void The_first_bad_commit_is_confirmed_when_reverting_it_on_the_bad_end_passes()
    {
        var (repo, commits) = Additive(6, 4);
        var before = repo.State();
        var log = new RecordingLog();

        var outcome = new BisectDriver(log).Run(Job(repo, commits[0], "test ! -e broken"));

        Assert.That(outcome.FirstBad!.Sha, Is.EqualTo(commits[4]));
        Assert.That(outcome.Confirmation.Status, Is.EqualTo(ConfirmationStatus.Confirmed), outcome.Confirmation.Message);
        var revert = outcome.Steps[^1];
        Assert.That(revert.Role, Is.EqualTo(StepRole.Revert));
        Assert.That(revert.Sha, Is.EqualTo(commits[6]), "the revert is tested on the bad end");
        Assert.That(revert.Verdict, Is.EqualTo(StepVerdict.Good));
        Assert.That(outcome.Confirmation.Step, Is.EqualTo(revert.Number));
        Assert.DoesNotThrow(() => BisectSession.Conclude(outcome, log));
        Assert.That(log.Lines, Has.Some.Contains("Confirmed: --bad with " + commits[4][..12] + " reverted passes"));
        Assert.That(repo.State(), Is.EqualTo(before));
        Assert.That(new GitFixture(WorktreePath).Run("status", "--porcelain"), Is.Empty, "the revert is not left in the worktree");
        AssertKeptIdle();
    }

    [Test]
    public void A_revert_that_applies_but_still_fails_is_not_confirmed()
    {
        // change 5 breaks it a second way: reverting change 3 alone cannot fix the bad end.
        var (repo, commits) = Additive(6, 3, alsoBroken: 5);
        var outcome = new BisectDriver(new RecordingLog()).Run(Job(repo, commits[0], "test ! -e broken && test ! -e broken-too"));
        Assert.That(outcome.FirstBad!.Sha, Is.EqualTo(commits[3]));
        Assert.That(outcome.Confirmation.Status, Is.EqualTo(ConfirmationStatus.NotConfirmed));
        Assert.That(outcome.Confirmation.Message, Does.Contain("reverted still fails"));
        var json = BisectReport.ToJson(outcome);
        Assert.That(json["confirmation"]!["status"]!.GetValue<string>(), Is.EqualTo("not confirmed"));
        Assert.That(json["ends"]!["good"]!["verdict"]!.GetValue<string>(), Is.EqualTo("good"));
        Assert.That(json["ends"]!["bad"]!["verdict"]!.GetValue<string>(), Is.EqualTo("bad"));
    }

    [Test]
    public void A_good_end_that_fails_or_a_bad_end_that_passes_stops_before_bisecting_with_exit_2()
    {
        var (repo, commits) = FakeKernel(3, 4);
        var outcome = new BisectDriver(new RecordingLog()).Run(Job(repo, commits[0], "grep -q good state"));
        Assert.That(outcome.Status, Is.EqualTo(BisectStatus.EndRejected));
        Assert.That(outcome.Problem, Does.StartWith("the bad end --bad (" + commits[3][..12] + " change 3) passes"));
        Assert.That(outcome.Steps, Has.Count.EqualTo(1), "the good end is not tested when the bad one already disqualifies the range");
        var e = Assert.Throws<KilnException>(() => BisectSession.Conclude(outcome, new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        AssertKeptIdle();

        var (failing, failingCommits) = FakeKernel(3, 2, "failing-good");
        outcome = new BisectDriver(new RecordingLog()).Run(Job(failing, failingCommits[0], "grep -q good state && ! grep -q 'good$' state"));
        Assert.That(outcome.Status, Is.EqualTo(BisectStatus.EndRejected));
        Assert.That(outcome.Problem, Does.StartWith("the good end --good (" + failingCommits[0][..12] + " base) fails"));
        Assert.That(outcome.GoodEnd!.Verdict, Is.EqualTo(StepVerdict.Bad));
        Assert.That(BisectReport.ToJson(outcome)["status"]!.GetValue<string>(), Is.EqualTo("endrejected"));

        outcome = new BisectDriver(new RecordingLog()).Run(Job(failing, failingCommits[0], "exit 125"));
        Assert.That(outcome.Problem, Does.Contain("cannot be tested"));
    }

    [Test]
    public void A_one_commit_range_is_decided_by_its_ends_and_confirmed()
    {
        var (repo, commits) = Additive(1, 1);
        var outcome = new BisectDriver(new RecordingLog()).Run(Job(repo, commits[0], "test ! -e broken"));
        Assert.That(outcome.Status, Is.EqualTo(BisectStatus.Found));
        Assert.That(outcome.FirstBad!.Sha, Is.EqualTo(commits[1]));
        Assert.That(outcome.FirstBadTested, Is.True, "the bad end's test built it");
        Assert.That(outcome.Confirmation.Status, Is.EqualTo(ConfirmationStatus.Confirmed));
    }

    [Test]
    public void A_step_that_aborts_stops_the_bisect_and_the_worktree_is_still_removed()
    {
        var (repo, commits) = FakeKernel(4, 2);
        var before = repo.State();
        var outcome = new BisectDriver(new RecordingLog()).Run(Job(repo, commits[0], "exit 255"));
        Assert.That(outcome.Status, Is.EqualTo(BisectStatus.Aborted));
        Assert.That(outcome.Problem, Does.Contain("decided abort"), "the bad end's step stopped it");
        Assert.That(repo.State(), Is.EqualTo(before));
        AssertKeptIdle();
    }

    [Test]
    public void Only_skipped_commits_left_gives_the_candidates()
    {
        var (repo, commits) = FakeKernel(3, 2);
        // The ends decide; every commit between them cannot be built.
        var outcome = new BisectDriver(new RecordingLog()).Run(Job(repo, commits[0],
            $"h=$(git rev-parse HEAD); [ $h = {commits[0]} ] && exit 0; [ $h = {commits[3]} ] && exit 1; exit 125"));
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
