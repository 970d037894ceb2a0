using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Kiln.Tests.Integration;

/// <summary>
/// The maintainer's loop: edit one patch of the series, build again. Only what the edited patch changes is compiled,
/// and the kernel is byte for byte (and identity for identity) what a clean build of the edited series gives.
/// </summary>
[TestFixture, Category("Integration")]
public class PatchLoopTests
{
    private readonly List<string> _scratch = [];

    [TearDown]
    public void TearDown()
    {
        foreach (var dir in _scratch.Where(Directory.Exists)) Directory.Delete(dir, recursive: true);
    }

    private string Scratch(string dir)
    {
        _scratch.Add(dir);
        return dir;
    }

    private static string NewOutDir() => Path.Combine(Path.GetTempPath(), "kiln-test-out-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>A patch adding a global string to kernel/sys.c (built into every guest kernel): the image changes with it.</summary>
    private static string SysPatch(string marker)
    {
        var sources = Path.Combine(KilnRun.SharedCacheDir, "sources");
        var sysC = Directory.GetDirectories(sources).Prepend(sources).SelectMany(d => Directory.GetDirectories(d).Prepend(d))
            .Select(d => Path.Combine(d, "kernel", "sys.c")).First(File.Exists);
        var original = File.ReadAllText(sysC);
        var lines = original.Split('\n').Length - 1;
        return "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: Ada Dev <ada@example.org>\n" +
               "Date: Mon, 1 Jan 2024 00:00:00 +0000\nSubject: [PATCH] kernel/sys: mark the patch loop\n\nA test patch.\n\n" +
               "Signed-off-by: Ada Dev <ada@example.org>\n---\n kernel/sys.c | 1 +\n 1 file changed, 1 insertion(+)\n\n" +
               "diff --git a/kernel/sys.c b/kernel/sys.c\n--- a/kernel/sys.c\n+++ b/kernel/sys.c\n" +
               $"@@ -{lines},1 +{lines},2 @@\n {original.Split('\n')[lines - 1]}\n+const char kiln_patch_loop[] = \"{marker}\";\n-- \n2.39.5\n\n";
    }

    private static KilnRunResult BuildKernel(string root, string cache, string outDir) =>
        KilnRun.Run(new[] { "--target=BuildKernel", "--kernel=6.1", "--cache-dir=" + cache, "--out=" + outDir }, repoRoot: root);

    [Test]
    public void Editing_one_patch_compiles_only_its_file_and_gives_the_clean_builds_bytes()
    {
        var root = Scratch(KilnRun.CopyInputs());
        var patch = Path.Combine(root, "patches", "6.1.x", "0002-kernel-sys-mark-the-patch-loop.patch");
        File.WriteAllText(patch, SysPatch("before"));
        var cache = Scratch(KilnRun.NewEmptyCache());
        var before = Scratch(NewOutDir());
        var first = BuildKernel(root, cache, before);
        Assert.That(first.ExitCode, Is.EqualTo(0), first.ToString());

        File.WriteAllText(patch, SysPatch("after"));
        var after = Scratch(NewOutDir());
        var edited = BuildKernel(root, cache, after);

        Assert.That(edited.ExitCode, Is.EqualTo(0), edited.ToString());
        Assert.That(edited.Output, Does.Contain("1 of 2 touched file(s) changed"), "the tree is switched, not copied again");
        var compiled = File.ReadAllLines(Path.Combine(after, "build.log")).Where(l => Regex.IsMatch(l, @"^\s{2}CC\s")).ToList();
        TestContext.Progress.WriteLine($"patch edit: {edited.Duration.TotalSeconds:F0} s, compiled: {string.Join(", ", compiled.Select(l => l.Trim()))}");
        Assert.That(compiled, Does.Contain("  CC      kernel/sys.o"));
        Assert.That(compiled.Count, Is.LessThanOrEqualTo(3), "only kernel/sys.c (and the version object) may be compiled again");
        Assert.That(Sha256(Path.Combine(after, "bzImage")), Is.Not.EqualTo(Sha256(Path.Combine(before, "bzImage"))));
        Assert.That(File.ReadAllBytes(Path.Combine(after, "vmlinux")).AsSpan().IndexOf("after\0"u8), Is.GreaterThan(0));

        // The edited series from nothing, in a cache of its own: the same identity and the same bytes.
        var cleanCache = Scratch(KilnRun.NewEmptyCache());
        var clean = Scratch(NewOutDir());
        var fresh = BuildKernel(root, cleanCache, clean);
        Assert.That(fresh.ExitCode, Is.EqualTo(0), fresh.ToString());
        Assert.That(fresh.Output, Does.Contain("Applied 2 patch(es)"));
        Assert.That(Identity(after), Is.EqualTo(Identity(clean)));
        foreach (var file in new[] { "bzImage", "vmlinux", "System.map", "config" })
            Assert.That(Sha256(Path.Combine(after, file)), Is.EqualTo(Sha256(Path.Combine(clean, file))), file);
    }

    private static string Identity(string outDir) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metadata.json"))).RootElement.GetProperty("identity_hash").GetString()!;

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
