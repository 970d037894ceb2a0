using System.Diagnostics;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Sources;

namespace Kiln.Tests.Bisect;

/// <summary>
/// The one bisect worktree per repository: reused by the next bisect, repaired after a killed one, recreated when git no
/// longer knows it, one bisect of a repository at a time; the user's checkout is never touched. No kernel is built.
/// </summary>
[Platform("Unix")]
public sealed class BisectWorktreeTests
{
    private const string Makefile = "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\n";
    private string _root = "";

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("kiln-bisect-worktree").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    private string WorktreePath => Path.Combine(_root, "cache", "bisect", "linux", "worktree");
    private string LockPath => Path.Combine(_root, "cache", "locks", "bisect-linux.lock");

    /// <summary>A fake kernel tree with <paramref name="files"/> files that never change and a "state" file good in the first half of 8 commits.</summary>
    private (GitFixture Repo, List<string> Commits) FakeKernel(int files = 3)
    {
        var repo = GitFixture.Init(Path.Combine(_root, "linux"));
        var tree = Enumerable.Range(0, files).Select(i => ($"drivers/d{i % 50}/f{i}.c", $"int f{i};\n"));
        var commits = new List<string> { repo.Commit("base", tree.Concat([("Makefile", Makefile), ("Kconfig", "# kconfig\n"), ("state", "good\n")]).ToArray()) };
        for (var i = 1; i <= 8; i++)
            commits.Add(repo.Commit($"change {i}", ("state", i >= 5 ? $"bad {i}\n" : $"good {i}\n")));
        return (repo, commits);
    }

    private BisectOutcome Bisect(GitFixture repo, string good, string bad, RecordingLog? log = null) =>
        new BisectDriver(log ?? new RecordingLog()).Run(new BisectJob(
            BisectRange.Resolve(repo.Directory, good, bad, new RecordingLog()), WorktreePath, LockPath,
            FakeStep.Command("grep -q good state", Path.Combine(_root, "out", "steps.jsonl")), new Dictionary<string, string>(), Path.Combine(_root, "out", "steps.jsonl")));

    private static string Stat(string path) =>
        new Command("stat", "--format=%i %y", path).Run(new RecordingLog()).StandardOutput.Trim();

    /// <summary>The user's checkout: HEAD, branch, index and files (not the worktree list, which a recreated worktree changes).</summary>
    private static string Checkout(GitFixture repo) => string.Join("\n",
        repo.Run("rev-parse", "HEAD"), repo.Run("symbolic-ref", "--quiet", "HEAD"), repo.Run("status", "--porcelain", "--untracked-files=all"),
        repo.Run("ls-files", "--stage"), repo.Run("for-each-ref", "refs/bisect"));

    private string AdminDir => new Git(WorktreePath, new RecordingLog()).Run("rev-parse", "--path-format=absolute", "--git-dir");

    [Test]
    public void A_second_bisect_of_the_repository_reuses_the_worktree_and_keeps_unchanged_files()
    {
        var (repo, commits) = FakeKernel();
        var first = new RecordingLog();
        Assert.That(Bisect(repo, commits[0], commits[8], first).FirstBad!.Sha, Is.EqualTo(commits[5]));
        Assert.That(first.Lines, Has.Some.Contains("Added the bisect worktree"));
        var makefile = Path.Combine(WorktreePath, "Makefile");
        var unchanged = Stat(makefile);

        var second = new RecordingLog();
        var outcome = Bisect(repo, commits[2], commits[7], second);

        Assert.That(outcome.FirstBad!.Sha, Is.EqualTo(commits[5]));
        Assert.That(outcome.WorktreeReused, Is.True, string.Join("\n", second.Lines));
        Assert.That(second.Lines, Has.Some.Contains("Reused the bisect worktree " + WorktreePath));
        Assert.That(Stat(makefile), Is.EqualTo(unchanged), "a file no commit changes keeps its inode and mtime, so make keeps its objects");
        Assert.That(repo.Run("worktree", "list", "--porcelain").Split('\n').Count(l => l.StartsWith("worktree ")), Is.EqualTo(2),
            "one bisect worktree, not one per bisect");
    }

    [Test]
    public void What_a_killed_bisect_leaves_is_reset_before_the_next_one()
    {
        var (repo, commits) = FakeKernel();
        Bisect(repo, commits[0], commits[8]);
        var worktree = new GitFixture(WorktreePath);
        // A bisect in progress, git's index lock, a half-written checkout and a build product, as after SIGKILL.
        worktree.Run("bisect", "start", commits[8], commits[0]);
        File.WriteAllText(Path.Combine(WorktreePath, "staged.c"), "");
        worktree.Run("add", "staged.c");
        File.WriteAllText(Path.Combine(AdminDir, "index.lock"), "");
        File.WriteAllText(Path.Combine(WorktreePath, "state"), "garbage from a half checkout\n");
        File.Delete(Path.Combine(WorktreePath, "Kconfig"));
        File.WriteAllText(Path.Combine(WorktreePath, "stray.o"), "");

        var log = new RecordingLog();
        var outcome = Bisect(repo, commits[0], commits[8], log);

        Assert.That(outcome.Status, Is.EqualTo(BisectStatus.Found));
        Assert.That(outcome.FirstBad!.Sha, Is.EqualTo(commits[5]), "the half-written state file did not decide a step");
        Assert.That(outcome.WorktreeReused, Is.True);
        Assert.That(log.Lines, Has.Some.Contains("index.lock, left by a bisect that was killed"));
        Assert.That(File.Exists(Path.Combine(WorktreePath, "Kconfig")), Is.True);
        Assert.That(File.Exists(Path.Combine(WorktreePath, "stray.o")), Is.False);
        Assert.That(File.Exists(Path.Combine(WorktreePath, "staged.c")), Is.False);
        Assert.That(worktree.Run("status", "--porcelain", "--untracked-files=all"), Is.Empty, "index and files are the commit's");
        Assert.That(File.Exists(Path.Combine(AdminDir, "index.lock")), Is.False);
        Assert.That(outcome.Log.Count(l => l.StartsWith("git bisect start")), Is.EqualTo(1), "the killed bisect's marks are gone");
    }

    [TestCase("no .git file")]
    [TestCase("not registered")]
    [TestCase("another repository's")]
    [TestCase("a plain directory")]
    public void A_worktree_git_no_longer_knows_is_recreated(string damage)
    {
        var (repo, commits) = FakeKernel();
        Bisect(repo, commits[0], commits[8]);
        switch (damage)
        {
            case "no .git file":
                File.Delete(Path.Combine(WorktreePath, ".git"));
                break;
            case "not registered":
                SourceCache.DeleteDirectory(AdminDir);
                break;
            case "another repository's":
                var other = GitFixture.Init(Path.Combine(_root, "other"));
                other.Commit("other", ("README", "another repository\n"));
                var elsewhere = Path.Combine(_root, "other-worktree");
                other.Run("worktree", "add", "--detach", "--quiet", elsewhere, "HEAD");
                File.Copy(Path.Combine(elsewhere, ".git"), Path.Combine(WorktreePath, ".git"), overwrite: true);
                break;
            default:
                repo.Run("worktree", "remove", "--force", WorktreePath);
                Directory.CreateDirectory(WorktreePath);
                File.WriteAllText(Path.Combine(WorktreePath, "state"), "good\n");
                break;
        }
        var before = Checkout(repo);

        var log = new RecordingLog();
        var outcome = Bisect(repo, commits[0], commits[8], log);

        Assert.That(outcome.FirstBad!.Sha, Is.EqualTo(commits[5]));
        Assert.That(outcome.WorktreeReused, Is.False);
        Assert.That(log.Lines, Has.Some.Contains("Added the bisect worktree"));
        Assert.That(new Git(WorktreePath, new RecordingLog()).Run("rev-parse", "--path-format=absolute", "--show-toplevel"), Is.EqualTo(WorktreePath));
        Assert.That(repo.Run("worktree", "list", "--porcelain"), Does.Contain("worktree " + WorktreePath));
        Assert.That(Checkout(repo), Is.EqualTo(before), "the user's checkout is untouched");
    }

    [Test]
    public void A_worktree_without_its_git_file_inside_the_users_checkout_never_runs_git_on_the_checkout()
    {
        // --cache-dir inside the repository: git run in the damaged worktree would find the user's checkout and clean it.
        var (repo, commits) = FakeKernel();
        File.AppendAllText(Path.Combine(repo.Directory, ".git", "info", "exclude"), "/.kiln-cache/\n");
        File.WriteAllText(Path.Combine(repo.Directory, "work-in-progress.c"), "the user's untracked work\n");
        var worktree = Path.Combine(repo.Directory, ".kiln-cache", "bisect", "worktree");
        var job = new BisectJob(BisectRange.Resolve(repo.Directory, commits[0], "main", new RecordingLog()), worktree, LockPath,
            FakeStep.Command("grep -q good state", Path.Combine(_root, "out", "steps.jsonl")), new Dictionary<string, string>(), Path.Combine(_root, "out", "steps.jsonl"));
        new BisectDriver(new RecordingLog()).Run(job);
        File.Delete(Path.Combine(worktree, ".git"));
        var before = Checkout(repo);

        var outcome = new BisectDriver(new RecordingLog()).Run(job);

        Assert.That(outcome.FirstBad!.Sha, Is.EqualTo(commits[5]));
        Assert.That(File.Exists(Path.Combine(repo.Directory, "work-in-progress.c")), Is.True);
        Assert.That(Checkout(repo), Is.EqualTo(before));
    }

    [Test]
    public void The_users_own_bisect_and_checkout_are_untouched()
    {
        var (repo, commits) = FakeKernel();
        File.WriteAllText(Path.Combine(repo.Directory, "state"), "the user's uncommitted edit\n");
        repo.Run("bisect", "start", "--no-checkout", commits[6], commits[1]);
        var before = repo.State();
        var bisectLog = repo.Run("bisect", "log");

        Bisect(repo, commits[0], commits[8]);
        Bisect(repo, commits[3], commits[8]);

        Assert.That(repo.State(), Is.EqualTo(before));
        Assert.That(repo.Run("bisect", "log"), Is.EqualTo(bisectLog));
        Assert.That(File.ReadAllText(Path.Combine(repo.Directory, "state")), Is.EqualTo("the user's uncommitted edit\n"));
    }

    [Test]
    public void A_second_bisect_of_the_same_repository_waits_for_the_first()
    {
        var (repo, commits) = FakeKernel();
        var log = new RecordingLog();
        Task<BisectOutcome> waiting;
        using (CacheLock.Acquire(LockPath, new RecordingLog()))
        {
            waiting = Task.Run(() => Bisect(repo, commits[0], commits[8], log));
            var deadline = Stopwatch.StartNew();
            while (!log.Lines.Any(l => l.Contains("Waiting for another Kiln run that holds " + LockPath)) && deadline.Elapsed < TimeSpan.FromSeconds(30))
                Thread.Sleep(50);
            Assert.That(log.Lines, Has.Some.Contains("Waiting for another Kiln run that holds " + LockPath), "it says it waits");
            Assert.That(Directory.Exists(WorktreePath), Is.False, "nothing is done to the worktree while the other bisect holds it");
        }
        Assert.That(waiting.Wait(TimeSpan.FromSeconds(60)), Is.True);
        Assert.That(waiting.Result.FirstBad!.Sha, Is.EqualTo(commits[5]));
    }

    [Test]
    public void Every_checkout_of_a_repository_shares_one_work_name_and_other_repositories_do_not()
    {
        var (repo, commits) = FakeKernel();
        var linked = Path.Combine(_root, "linked");
        repo.Run("worktree", "add", "--detach", "--quiet", linked, commits[1]);
        var other = GitFixture.Init(Path.Combine(_root, "elsewhere", "linux"));
        other.Commit("one", ("README", "x\n"));
        var log = new RecordingLog();

        var name = BisectWorktree.WorkName(repo.Directory, log);

        Assert.That(name, Does.Match("^linux-[0-9a-f]{12}$"));
        Assert.That(BisectWorktree.WorkName(linked, log), Is.EqualTo(name));
        Assert.That(BisectWorktree.WorkName(Path.Combine(repo.Directory, "drivers"), log), Is.EqualTo(name));
        Assert.That(BisectWorktree.WorkName(other.Directory, log), Is.Not.EqualTo(name).And.StartsWith("linux-"));
    }

    /// <summary>
    /// A measurement, not a check (its times depend on the disk and the load): adding the worktree of a 20,000-file tree,
    /// then reusing it. Explicit because committing the fixture takes minutes.
    /// </summary>
    [Test]
    [Explicit("a measurement on a 20,000-file fixture that takes minutes to commit")]
    public void Measure_adding_and_reusing_the_worktree_of_a_large_tree()
    {
        var (repo, commits) = FakeKernel(files: 20_000);
        var added = Bisect(repo, commits[0], commits[8]);
        var reused = Bisect(repo, commits[1], commits[8]);
        TestContext.Progress.WriteLine($"20,000 files: worktree added in {added.WorktreeSeconds:F1} s, reused in {reused.WorktreeSeconds:F1} s");
        Assert.That(added.WorktreeReused, Is.False);
        Assert.That(reused.WorktreeReused, Is.True);
    }
}
