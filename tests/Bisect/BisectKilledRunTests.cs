using System.Text.Json;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;
using Kiln.Tests.Reliability;
using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Bisect;

/// <summary>
/// A bisect killed with SIGKILL mid-step, through the real host: the next bisect of the repository repairs the kept
/// worktree and runs. The tree is a fake kernel whose merge_config.sh fails, so every step is a quick skip, not a build.
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
        Assert.That(inWorktree.Git.Try("bisect", "log").ExitCode, Is.EqualTo(0), "the killed run left its bisect in progress");
        // A kill inside git's checkout also leaves the worktree's index.lock.
        File.WriteAllText(Path.Combine(inWorktree.Run("rev-parse", "--path-format=absolute", "--git-dir"), "index.lock"), "");

        var rerun = Run(args, timeout: TimeSpan.FromMinutes(5));

        Assert.That(rerun.ExitCode, Is.EqualTo(1), rerun.ToString());
        Assert.That(rerun.Output, Does.Contain("index.lock, left by a bisect that was killed"));
        Assert.That(rerun.Output, Does.Contain("Reused the bisect worktree " + worktree));
        Assert.That(rerun.Output, Does.Contain("Error: Bisect could not name one commit"));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, BisectReport.FileName)));
        var json = report.RootElement;
        Assert.That(json.GetProperty("status").GetString(), Is.EqualTo("inconclusive"));
        Assert.That(json.GetProperty("worktreeReused").GetBoolean(), Is.True);
        Assert.That(json.GetProperty("log").EnumerateArray().Count(l => l.GetString()!.StartsWith("git bisect start")), Is.EqualTo(1),
            "the killed bisect's marks were cleared");
        Assert.That(json.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("verdict").GetString()), Is.All.EqualTo("skip"));
        Assert.That(inWorktree.Git.Try("bisect", "log").ExitCode, Is.Not.EqualTo(0), "no bisect is left in progress");
        Assert.That(repo.State(), Is.EqualTo(before), "the user's checkout, HEAD, index and bisect refs are untouched");
    }
}
