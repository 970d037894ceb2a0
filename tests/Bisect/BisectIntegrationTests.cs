using System.Text.Json;
using Kiln.Kernel.Bisect;
using Kiln.Tests.Integration;

namespace Kiln.Tests.Bisect;

/// <summary>
/// Bisect end to end on a real kernel history made from the Debian 6.1 tree: a benign commit, one that
/// breaks the build, its fix, one that panics at boot, and a benign one after. All steps share one
/// build directory, so only the first build is cold.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class BisectIntegrationTests
{
    private const string PanicLine = "\tpanic(\"kiln bisect test\");\n";

    /// <summary>Extended: the bisect work dir is a cold build of its own (15 minutes on a cold CI run).</summary>
    [Test]
    [Category("Extended")]
    public void Bisect_finds_the_commit_that_breaks_the_boot_skips_the_unbuildable_one_and_leaves_the_repo_alone()
    {
        // A fixed path: the repository's bisect build directory in the shared cache is then reused by the next run.
        var root = Path.Combine(Path.GetTempPath(), "kiln-bisect-it");
        var (repo, repoPath, good) = DebianTreeRepository(root);
        var mainC = File.ReadAllText(Path.Combine(repoPath, "init", "main.c"));
        var readme = File.ReadAllText(Path.Combine(repoPath, "README"));
        Assert.That(mainC, Does.Contain("\tkernel_init_freeable();\n"));

        repo.Commit("README: a benign change", ("README", readme + "\nKiln bisect test.\n"));
        var breaksBuild = repo.Commit("init: a syntax error", ("init/main.c", mainC + "\nint kiln_bisect_syntax_error = ;\n"));
        repo.Commit("init: fix the syntax error", ("init/main.c", mainC));
        var panics = repo.Commit("init: panic in kernel_init", ("init/main.c", mainC.Replace("\tkernel_init_freeable();\n", "\tkernel_init_freeable();\n" + PanicLine)));
        repo.Commit("README: another benign change", ("README", readme + "\nKiln bisect test, again.\n"));
        var before = repo.State();

        var outDir = Path.Combine(root, "out");
        var run = KilnRun.Run(new[] { "--target=Bisect", "--repo=" + repoPath, "--good=" + good[..12], "--bad=main",
            "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir }, timeout: TimeSpan.FromMinutes(60));

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain($"First bad commit: {panics} init: panic in kernel_init"));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, BisectReport.FileName)));
        var json = report.RootElement;
        Assert.That(json.GetProperty("status").GetString(), Is.EqualTo("found"));
        Assert.That(json.GetProperty("firstBad").GetProperty("sha").GetString(), Is.EqualTo(panics));
        Assert.That(json.GetProperty("firstBad").GetProperty("author").GetString(), Is.EqualTo("Kiln <kiln@localhost>"));
        Assert.That(json.GetProperty("commits").GetInt32(), Is.EqualTo(5));
        Assert.That(json.GetProperty("log").EnumerateArray().Select(l => l.GetString()), Has.Some.Contains("# first bad commit: [" + panics));

        var steps = json.GetProperty("steps").EnumerateArray().ToList();
        TestContext.Progress.WriteLine(string.Join("\n", steps.Select(s =>
            $"step {s.GetProperty("number")}: {s.GetProperty("sha").GetString()![..12]} {s.GetProperty("verdict")} exit {s.GetProperty("exitCode")} " +
            $"configure {s.GetProperty("configureSeconds")} s, build {s.GetProperty("buildSeconds")} s, boot {s.GetProperty("bootSeconds")} s, total {s.GetProperty("totalSeconds")} s")));
        // git bisect's first midpoint of this history is the unbuildable commit: it must be skipped, not judged.
        var unbuildable = steps.Single(s => s.GetProperty("sha").GetString() == breaksBuild);
        Assert.That(unbuildable.GetProperty("verdict").GetString(), Is.EqualTo("skip"));
        Assert.That(unbuildable.GetProperty("exitCode").GetInt32(), Is.EqualTo(125));
        Assert.That(unbuildable.GetProperty("phase").GetString(), Is.EqualTo("build"));
        var panicking = steps.Single(s => s.GetProperty("sha").GetString() == panics);
        Assert.That(panicking.GetProperty("verdict").GetString(), Is.EqualTo("bad"));
        Assert.That(panicking.GetProperty("message").GetString(), Does.Contain("Kernel panic"));

        Assert.That(steps.Select(s => s.GetProperty("role").GetString()).Take(2), Is.EqualTo(new[] { "badEnd", "goodEnd" }));
        Assert.That(steps[^1].GetProperty("role").GetString(), Is.EqualTo("revert"));
        Assert.That(json.GetProperty("confirmation").GetProperty("status").GetString(), Is.EqualTo("confirmed"));
        var deciding = steps.Count(s => s.GetProperty("role").GetString() == "bisect" && s.GetProperty("verdict").GetString() is "good" or "bad");
        Assert.That(deciding, Is.LessThanOrEqualTo(BisectBound.MaxDecidingSteps(5)), "git bisect's bound: ceil(log2 N)+1 builds plus skips");
        Assert.That(json.GetProperty("withinBound").GetBoolean(), Is.True);

        Assert.That(repo.State(), Is.EqualTo(before), "the repository's HEAD, branch, index, status and worktrees are unchanged");
        var worktree = Path.Combine(KilnRun.SharedCacheDir, "bisect", BisectWorktree.WorkName(repoPath, new Kiln.Kernel.Diagnostics.RecordingLog()), "worktree");
        Assert.That(repo.Run("worktree", "list", "--porcelain"), Does.Contain("worktree " + worktree), "the bisect worktree is kept for the next bisect");
        Assert.That(json.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("overheadSeconds").GetDouble()).Max(),
            Is.EqualTo(json.GetProperty("maxOverheadSeconds").GetDouble()));
        Directory.Delete(root, recursive: true);
    }

    /// <summary>Extended: its own cold arm64 build (the bisect work dir shares no objects with other builds).</summary>
    [Test]
    [Category("Extended")]
    public void An_arm64_bisect_cross_builds_and_boots_its_steps_with_the_arm64_busybox()
    {
        // Before the pipeline was shared, a step booted /bin/busybox (x86_64) in the arm64 guest and aborted the bisect.
        var root = Path.Combine(Path.GetTempPath(), "kiln-bisect-arm64-it");
        var (repo, repoPath, good, panics) = ThreeCommitHistory(root);
        var before = repo.State();

        var outDir = Path.Combine(root, "out");
        var run = KilnRun.Run(new[] { "--target=Bisect", "--arch=arm64", "--repo=" + repoPath, "--good=" + good[..12], "--bad=main",
            "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir }, timeout: TimeSpan.FromMinutes(90));

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain($"First bad commit: {panics} init: panic in kernel_init"));
        Assert.That(run.Output, Does.Contain("qemu-system-aarch64"));
        Assert.That(run.Output, Does.Not.Contain("is not built for arm64"));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, BisectReport.FileName)));
        var steps = report.RootElement.GetProperty("steps").EnumerateArray().ToList();
        Assert.That(steps, Is.Not.Empty);
        Assert.That(steps.Select(s => s.GetProperty("verdict").GetString()), Has.None.EqualTo("abort").And.None.EqualTo("skip"));
        foreach (var step in steps)
            Assert.That(Directory.GetFiles(Path.Combine(step.GetProperty("directory").GetString()!, "boot"), "results.json"), Is.Not.Empty);
        Assert.That(repo.State(), Is.EqualTo(before), "the repository's HEAD, branch, index, status and worktrees are unchanged");
        Directory.Delete(root, recursive: true);
    }

    /// <summary>The culprit of <see cref="A_culprit_that_fails_on_every_second_boot_is_found_with_repeat_3_and_its_revert_confirmed"/>: a proc file that panics the kernel when written.</summary>
    private const string FlakyDriver = """
        // SPDX-License-Identifier: GPL-2.0
        /* Kiln's bisect fixture: writing /proc/kiln_flaky panics the kernel. */
        #include <linux/init.h>
        #include <linux/kernel.h>
        #include <linux/proc_fs.h>

        static ssize_t kiln_flaky_write(struct file *file, const char __user *buf, size_t count, loff_t *pos)
        {
        	panic("kiln-flaky: the culprit failed this boot");
        	return count;
        }

        static const struct proc_ops kiln_flaky_ops = {
        	.proc_write = kiln_flaky_write,
        };

        static int __init kiln_flaky_init(void)
        {
        	proc_create("kiln_flaky", 0200, NULL, &kiln_flaky_ops);
        	return 0;
        }
        late_initcall(kiln_flaky_init);

        """;

    /// <summary>Counts every boot in --rwdir; on every second one it writes the culprit's proc file, when the kernel has it.</summary>
    private const string FlakyTest = """
        #!/bin/sh
        [ -n "$KILN_RWDIR" ] || { echo "no KILN_RWDIR: --rwdir is not shared"; exit 2; }
        n=$(cat "$KILN_RWDIR/boots" 2>/dev/null || echo 0)
        n=$((n + 1))
        echo "$n" > "$KILN_RWDIR/boots" && sync
        echo "boot $n"
        if [ -e /proc/kiln_flaky ] && [ $((n % 2)) -eq 0 ]; then echo crash > /proc/kiln_flaky; fi
        exit 0

        """;

    /// <summary>
    /// Extended: a history whose culprit panics on every second boot (a boot counter in --rwdir decides). Once (--repeat=1),
    /// the bad end's single boot passes and the range is refused; --repeat=3 finds the culprit, reports its steps as flaky
    /// and confirms it by its revert; a range whose good end holds the culprit is refused. Shares the first test's repository
    /// path, and so its bisect build directory.
    /// </summary>
    [Test]
    [Category("Extended")]
    public void A_culprit_that_fails_on_every_second_boot_is_found_with_repeat_3_and_its_revert_confirmed()
    {
        var root = Path.Combine(Path.GetTempPath(), "kiln-bisect-it");
        var (repo, repoPath, good) = DebianTreeRepository(root);
        var makefile = File.ReadAllText(Path.Combine(repoPath, "kernel", "Makefile"));
        var readme = File.ReadAllText(Path.Combine(repoPath, "README"));
        repo.Commit("README: a benign change", ("README", readme + "\nKiln bisect test.\n"));
        var culprit = repo.Commit("kernel: a driver that fails on some boots",
            ("kernel/kiln_flaky.c", FlakyDriver), ("kernel/Makefile", makefile + "obj-y += kiln_flaky.o\n"));
        repo.Commit("README: another benign change", ("README", readme + "\nKiln bisect test, again.\n"));
        var test = Path.Combine(root, "flaky-test.sh");
        File.WriteAllText(test, FlakyTest);
        var rwdir = Path.Combine(root, "state");
        var before = repo.State();

        KilnRunResult Bisect(string goodRef, int repeat, string outDir)
        {
            if (Directory.Exists(rwdir)) Directory.Delete(rwdir, recursive: true);
            return KilnRun.Run(new[] { "--target=Bisect", "--repo=" + repoPath, "--good=" + goodRef, "--bad=main", "--repeat=" + repeat,
                "--test=" + test, "--rwdir=" + rwdir, "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir }, timeout: TimeSpan.FromMinutes(60));
        }

        // Once: the bad end's one boot is the first, which passes, so the range is refused rather than bisected wrongly.
        var once = Bisect(good[..12], 1, Path.Combine(root, "out-once"));
        Assert.That(once.ExitCode, Is.EqualTo(2), once.ToString());
        Assert.That(once.Output, Does.Contain("the bad end --bad=main").And.Contain("passes"));
        Assert.That(File.ReadAllText(Path.Combine(rwdir, "boots")).Trim(), Is.EqualTo("1"));

        var outDir = Path.Combine(root, "out");
        var run = Bisect(good[..12], 3, outDir);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain($"First bad commit: {culprit} kernel: a driver that fails on some boots"));
        Assert.That(run.Output, Does.Contain("Confirmed: --bad=main with " + culprit[..12] + " reverted passes"));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, BisectReport.FileName)));
        var json = report.RootElement;
        Assert.That(json.GetProperty("repeat").GetInt32(), Is.EqualTo(3));
        Assert.That(json.GetProperty("ends").GetProperty("bad").GetProperty("verdict").GetString(), Is.EqualTo("bad"));
        Assert.That(json.GetProperty("ends").GetProperty("good").GetProperty("verdict").GetString(), Is.EqualTo("good"));
        Assert.That(json.GetProperty("confirmation").GetProperty("status").GetString(), Is.EqualTo("confirmed"));
        var steps = json.GetProperty("steps").EnumerateArray().ToList();
        TestContext.Progress.WriteLine(string.Join("\n", steps.Select(s =>
            $"step {s.GetProperty("number")} {s.GetProperty("role")}: {s.GetProperty("sha").GetString()![..12]} {s.GetProperty("verdict")} " +
            $"{s.GetProperty("passes")}/{s.GetProperty("boots")} flaky={s.GetProperty("flaky")}: {s.GetProperty("message")}")));
        // Every step with the culprit is bad and flaky (three consecutive boots hold an even one); every other step passes all three.
        var withCulprit = steps.Where(s => s.GetProperty("role").GetString() != "revert" &&
                                           repo.Git.Try("merge-base", "--is-ancestor", culprit, s.GetProperty("sha").GetString()!).ExitCode == 0).ToList();
        Assert.That(withCulprit, Is.Not.Empty);
        Assert.That(withCulprit.Select(s => s.GetProperty("verdict").GetString()), Is.All.EqualTo("bad"));
        Assert.That(withCulprit.Select(s => s.GetProperty("flaky").GetBoolean()), Is.All.True);
        Assert.That(steps.Except(withCulprit).Select(s => s.GetProperty("passes").GetInt32()), Is.All.EqualTo(3));
        Assert.That(json.GetProperty("flakySteps").GetInt32(), Is.EqualTo(withCulprit.Count));
        Assert.That(File.ReadAllText(Path.Combine(rwdir, "boots")).Trim(), Is.EqualTo((3 * steps.Count).ToString()), "every boot ran the test once");
        Assert.That(run.Output, Does.Contain($"{withCulprit.Count} step(s) were flaky"));

        // The culprit as the good end: it fails (on one of its three boots), so there is nothing to bisect.
        var wrongGood = Bisect(culprit[..12], 3, Path.Combine(root, "out-wrong-good"));
        Assert.That(wrongGood.ExitCode, Is.EqualTo(2), wrongGood.ToString());
        Assert.That(wrongGood.Output, Does.Contain($"the good end --good={culprit[..12]}").And.Contain("fails: flaky:"));
        Assert.That(repo.State(), Is.EqualTo(before), "the repository's HEAD, branch, index, status and worktrees are unchanged");
        Directory.Delete(root, recursive: true);
    }

    /// <summary>
    /// A repository of the Debian 6.1 tree at <paramref name="root"/>/linux (emptied first) whose first commit, the good
    /// end, drops the last stanza of Debian's .gitignore (which ignores its whole top level), as a kernel developer would.
    /// </summary>
    internal static (GitFixture Repo, string Path, string Good) DebianTreeRepository(string root)
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(root);
        var repoPath = Path.Combine(root, "linux");
        CopyTree(TestKernel.SourceTree, repoPath);
        File.Delete(Path.Combine(repoPath, ".kiln-source.json"));
        var repo = GitFixture.Init(repoPath);
        var gitignore = File.ReadAllText(Path.Combine(repoPath, ".gitignore"));
        var good = repo.Commit("Linux 6.1 (Debian's tree)", (".gitignore", gitignore[..gitignore.LastIndexOf("\n#\n# Debian packaging", StringComparison.Ordinal)] + "\n"));
        return (repo, repoPath, good);
    }

    /// <summary>The Debian 6.1 tree as a repository: good, a benign commit, a commit that panics at boot.</summary>
    internal static (GitFixture Repo, string Path, string Good, string Panics) ThreeCommitHistory(string root)
    {
        var (repo, repoPath, good) = DebianTreeRepository(root);
        var mainC = File.ReadAllText(Path.Combine(repoPath, "init", "main.c"));
        var readme = File.ReadAllText(Path.Combine(repoPath, "README"));
        repo.Commit("README: a benign change", ("README", readme + "\nKiln bisect test.\n"));
        var panics = repo.Commit("init: panic in kernel_init", ("init/main.c", mainC.Replace("\tkernel_init_freeable();\n", "\tkernel_init_freeable();\n" + PanicLine)));
        return (repo, repoPath, good, panics);
    }

    /// <summary>Extended: its series repository is one more cold build work dir (about 11 minutes on a cold CI run).</summary>
    [Test]
    [Category("Extended")]
    public void Bisect_of_the_patch_series_names_the_patch_that_breaks_the_boot()
    {
        var kilnRoot = KilnRun.CopyInputs();
        var mainC = File.ReadAllLines(Path.Combine(TestKernel.SourceTree, "init", "main.c"));
        File.WriteAllText(Path.Combine(kilnRoot, "patches", "6.1.x", "0002-init-panic-in-kernel_init.patch"), PanicPatch(mainC));
        var outDir = Path.Combine(kilnRoot, "out");

        var run = KilnRun.Run(new[] { "--target=Bisect", "--patches", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir },
            repoRoot: kilnRoot, timeout: TimeSpan.FromMinutes(60));

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, BisectReport.FileName)));
        var json = report.RootElement;
        Assert.That(json.GetProperty("firstBad").GetProperty("subject").GetString(), Is.EqualTo("init: panic in kernel_init"));
        Assert.That(json.GetProperty("firstBad").GetProperty("author").GetString(), Is.EqualTo("Kiln Test <test@kiln.invalid>"));
        Assert.That(json.GetProperty("commits").GetInt32(), Is.EqualTo(2));
        var steps = json.GetProperty("steps").EnumerateArray().ToList();
        TestContext.Progress.WriteLine(string.Join("\n", steps.Select(s =>
            $"step {s.GetProperty("number")}: {s.GetProperty("subject").GetString()} {s.GetProperty("verdict")} " +
            $"configure {s.GetProperty("configureSeconds")} s, build {s.GetProperty("buildSeconds")} s, boot {s.GetProperty("bootSeconds")} s")));
        // Both ends (the whole series, the pristine tree), then the one patch before the last decides, then the revert check.
        Assert.That(steps.Select(s => s.GetProperty("role").GetString() + ":" + s.GetProperty("subject").GetString() + ":" + s.GetProperty("verdict").GetString()),
            Is.EqualTo(new[]
            {
                "badEnd:init: panic in kernel_init:bad", $"goodEnd:{steps[1].GetProperty("subject").GetString()}:good",
                "bisect:init: print a Kiln marker after the Linux banner:good", "revert:init: panic in kernel_init (with uncommitted changes):good",
            }));
        Assert.That(steps[1].GetProperty("subject").GetString(), Does.StartWith("Linux 6.1"));
        Assert.That(json.GetProperty("confirmation").GetProperty("status").GetString(), Is.EqualTo("confirmed"));
        Assert.That(json.GetProperty("withinBound").GetBoolean(), Is.True);
        Directory.Delete(kilnRoot, recursive: true);
    }

    /// <summary>A git format-patch style patch adding a panic after kernel_init_freeable(), on top of patch 0001 (two lines earlier in the file).</summary>
    private static string PanicPatch(string[] mainC)
    {
        var at = Array.IndexOf(mainC, "\tkernel_init_freeable();");
        Assert.That(at, Is.GreaterThan(3), "init/main.c calls kernel_init_freeable()");
        var before = mainC[(at - 2)..(at + 1)];
        var after = mainC[(at + 1)..(at + 4)];
        var start = at - 2 + 1 + 2;
        return $"""
            From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
            From: Kiln Test <test@kiln.invalid>
            Date: Thu, 1 Jan 2026 00:00:00 +0000
            Subject: [PATCH] init: panic in kernel_init

            Signed-off-by: Kiln Test <test@kiln.invalid>
            ---
             init/main.c | 1 +
             1 file changed, 1 insertion(+)

            diff --git a/init/main.c b/init/main.c
            --- a/init/main.c
            +++ b/init/main.c
            @@ -{start},6 +{start},7 @@
            {string.Join("\n", before.Select(l => " " + l))}
            +{PanicLine.TrimEnd('\n')}
            {string.Join("\n", after.Select(l => " " + l))}
            -- 
            2.39.5

            """;
    }

    private static void CopyTree(string from, string to)
    {
        // A real copy, not hard links: the shared source tree must never be written through.
        var copy = new Kiln.Kernel.Processes.Command("cp", "-a", from, to) { Purpose = "Copy the kernel tree" };
        copy.Run(new Kiln.Kernel.Diagnostics.RecordingLog());
    }
}
