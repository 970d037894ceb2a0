using System.Text.Json;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;
using Kiln.Tests.Reliability;
using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Bisect;

/// <summary>
/// A bisect killed with SIGKILL mid-step, through the real host: the next bisect of the repository repairs the kept
/// worktree and runs. The tree is a fake kernel whose merge_config.sh fails, so every step is a quick skip, not a build
/// (and the bad end, which cannot be tested, ends the bisect with exit 2 before git bisect run).
/// </summary>
[TestFixture]
[Category("Reliability")]
[Platform("Unix")]
[NonParallelizable]
public sealed class BisectKilledRunTests
{
    private const string Makefile = "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\n";

    [Test]
    public void A_killed_bisect_leaves_a_worktree_the_next_bisect_repairs_and_reuses()
    {
        using var scratch = new Scratch("bisect-killed");
        var repo = GitFixture.Init(scratch.Dir("linux"));
        repo.Commit("base", ("Makefile", Makefile), ("Kconfig", "# kconfig\n"), ("state", "0\n"),
            ("scripts/kconfig/merge_config.sh", "#!/bin/sh\necho 'this tree does not configure' >&2\nexit 1\n"));
        File.SetUnixFileMode(Path.Combine(repo.Directory, "scripts", "kconfig", "merge_config.sh"),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        repo.Run("commit", "--quiet", "--amend", "--all", "--no-edit", "--no-verify");
        var good = repo.Run("rev-parse", "HEAD");
        repo.Commit("change 1", ("state", "1\n"));
        repo.Commit("change 2", ("state", "2\n"));
        var before = repo.State();
        var cache = scratch.Path_("cache");
        var outDir = scratch.Path_("out");
        string[] args = ["--target=Bisect", "--repo=" + repo.Directory, "--good=" + good, "--bad=main", "--cache-dir=" + cache, "--out=" + outDir];

        var killed = Run(args, killWhen: line => line.Contains("Bisect step 1:"), timeout: TimeSpan.FromMinutes(5));

        Assert.That(killed.Killed, Is.True, killed.ToString());
        var worktree = Path.Combine(cache, "bisect", BisectWorktree.WorkName(repo.Directory, new RecordingLog()), "worktree");
        var inWorktree = new GitFixture(worktree);
        // A kill during git bisect run leaves its bisect in progress (this tree's ends never let it get there, so it is
        // started here, in the worktree the killed run left), and a kill inside git's checkout the worktree's index.lock.
        inWorktree.Run("bisect", "start", "main", good);
        Assert.That(inWorktree.Git.Try("bisect", "log").ExitCode, Is.EqualTo(0));
        File.WriteAllText(Path.Combine(inWorktree.Run("rev-parse", "--path-format=absolute", "--git-dir"), "index.lock"), "");

        var rerun = Run(args, timeout: TimeSpan.FromMinutes(5));

        Assert.That(rerun.ExitCode, Is.EqualTo(2), rerun.ToString());
        Assert.That(rerun.Output, Does.Contain("index.lock, left by a bisect that was killed"));
        Assert.That(rerun.Output, Does.Contain("Reused the bisect worktree " + worktree));
        Assert.That(rerun.Output, Does.Contain("Nothing was bisected: the bad end --bad=main").And.Contain("cannot be tested: configure failed"));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, BisectReport.FileName)));
        var json = report.RootElement;
        Assert.That(json.GetProperty("status").GetString(), Is.EqualTo("endrejected"));
        Assert.That(json.GetProperty("worktreeReused").GetBoolean(), Is.True);
        Assert.That(json.GetProperty("ends").GetProperty("bad").GetProperty("verdict").GetString(), Is.EqualTo("skip"));
        Assert.That(json.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("verdict").GetString()), Is.EqualTo(new[] { "skip" }));
        Assert.That(inWorktree.Git.Try("bisect", "log").ExitCode, Is.Not.EqualTo(0), "no bisect is left in progress");
        Assert.That(repo.State(), Is.EqualTo(before), "the user's checkout, HEAD, index and bisect refs are untouched");
    }
}
