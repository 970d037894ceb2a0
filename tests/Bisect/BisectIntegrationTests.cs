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

    [Test]
    public void Bisect_finds_the_commit_that_breaks_the_boot_skips_the_unbuildable_one_and_leaves_the_repo_alone()
    {
        var root = Directory.CreateTempSubdirectory("kiln-bisect-it").FullName;
        var repoPath = Path.Combine(root, "linux");
        CopyTree(TestKernel.SourceTree, repoPath);
        File.Delete(Path.Combine(repoPath, ".kiln-source.json"));
        var repo = GitFixture.Init(repoPath);
        var gitignore = File.ReadAllText(Path.Combine(repoPath, ".gitignore"));
        var mainC = File.ReadAllText(Path.Combine(repoPath, "init", "main.c"));
        var readme = File.ReadAllText(Path.Combine(repoPath, "README"));
        Assert.That(mainC, Does.Contain("\tkernel_init_freeable();\n"));

        // Debian's .gitignore ends by ignoring its whole top level: drop that stanza, as a kernel developer would.
        var good = repo.Commit("Linux 6.1 (Debian's tree)", (".gitignore", gitignore[..gitignore.LastIndexOf("\n#\n# Debian packaging", StringComparison.Ordinal)] + "\n"));
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

        var deciding = steps.Count(s => s.GetProperty("verdict").GetString() is "good" or "bad");
        Assert.That(deciding, Is.LessThanOrEqualTo(BisectBound.MaxDecidingSteps(5)), "git bisect's bound: ceil(log2 N)+1 builds plus skips");
        Assert.That(json.GetProperty("withinBound").GetBoolean(), Is.True);

        Assert.That(repo.State(), Is.EqualTo(before), "the repository's HEAD, branch, index, status and worktrees are unchanged");
        var work = Directory.GetDirectories(Path.Combine(KilnRun.SharedCacheDir, "bisect"), "linux-*").Single(d => Directory.Exists(Path.Combine(d, "build")));
        Assert.That(Directory.Exists(Path.Combine(work, "worktree")), Is.False, "the bisect worktree is removed");
        Directory.Delete(root, recursive: true);
    }

    private static void CopyTree(string from, string to)
    {
        // A real copy, not hard links: the shared source tree must never be written through.
        var copy = new Kiln.Kernel.Processes.Command("cp", "-a", from, to) { Purpose = "Copy the kernel tree" };
        copy.Run(new Kiln.Kernel.Diagnostics.RecordingLog());
    }
}
