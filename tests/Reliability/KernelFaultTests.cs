using System.Diagnostics;
using System.Text.Json;
using Kiln.Tests.Integration;
using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Reliability;

/// <summary>
/// Faults around a built kernel: damaged cache entries, QEMU not on PATH, a guest that panics or hangs, a full
/// --out, paths with spaces, a build error and a build killed half-way. They work on copies of the shared 6.1
/// kernel's cache entry (a cache hit takes seconds); only the build case compiles, with a copy of the shared
/// ccache so that its rebuild takes about two minutes instead of ten.
/// </summary>
[TestFixture]
[Category("Reliability")]
[NonParallelizable]
public sealed class KernelFaultTests
{
    private static string EntryName => Path.GetFileName(Scratch.SharedEntry);

    private static string[] Args(string target, string cache, string @out, params string[] extra) =>
        new[] { "--target=" + target, "--kernel=6.1", "--source=debian", "--cache-dir=" + cache, "--out=" + @out }.Concat(extra).ToArray();

    private static string Sha256(string path) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));

    [TestCase("bzImage flipped", "bzImage does not match its recorded sha256")]
    [TestCase("vmlinux missing", "vmlinux is missing")]
    [TestCase("metadata truncated", "metadata.json is missing or unreadable")]
    [TestCase("metadata missing", "metadata.json is missing or unreadable")]
    public void DamagedCacheEntryIsNotServed(string damage, string expected)
    {
        using var scratch = new Scratch("entry");
        var cache = scratch.CacheWithSharedKernel();
        var entry = Path.Combine(cache, "kernels", EntryName);
        switch (damage)
        {
            case "bzImage flipped":
                using (var f = File.Open(Path.Combine(entry, "bzImage"), FileMode.Open)) { f.Position = 4096; var b = f.ReadByte(); f.Position = 4096; f.WriteByte((byte)(b ^ 1)); }
                break;
            case "vmlinux missing": File.Delete(Path.Combine(entry, "vmlinux")); break;
            case "metadata truncated": File.WriteAllText(Path.Combine(entry, "metadata.json"), File.ReadAllText(Path.Combine(entry, "metadata.json"))[..200]); break;
            case "metadata missing": File.Delete(Path.Combine(entry, "metadata.json")); break;
        }

        var run = Run(Args("Setup", cache, scratch.Path_("out")));
        AssertSucceeds(run);
        Assert.That(run.Output, Does.Contain("Ignoring the damaged cache entry").And.Contain(expected).And.Contain("It will be rebuilt"));
        Assert.That(Directory.Exists(entry), Is.False, "the damaged entry must be removed so it is never served");
    }

    [Test]
    public void QemuNotOnPathThenBootsWhenItIs()
    {
        using var scratch = new Scratch("qemu");
        var cache = scratch.CacheWithSharedKernel();
        // Everything of /usr/bin but QEMU: what a host without qemu-system-x86 looks like to Kiln.
        var bin = scratch.Dir("bin");
        foreach (var tool in Directory.EnumerateFileSystemEntries("/usr/bin").Where(t => !Path.GetFileName(t).StartsWith("qemu-", StringComparison.Ordinal)))
            File.CreateSymbolicLink(Path.Combine(bin, Path.GetFileName(tool)), tool);
        var env = new Dictionary<string, string?> { ["PATH"] = bin };

        var run = Run(Args("BootTest", cache, scratch.Path_("out")), env: env);
        AssertFails(run, 2, "qemu-system-x86_64", "PATH");
        Assert.That(run.Output, Does.Not.Contain("Installing missing prerequisites"), "apt-get cannot fix a PATH");

        var rerun = Run(Args("BootTest", cache, scratch.Path_("out")));
        AssertSucceeds(rerun);
        Assert.That(rerun.Output, Does.Contain($"PASS: Linux {KilnRun.Key61}"));
    }

    [Test]
    public void GuestPanicAndHangFailThenACleanBootPasses()
    {
        using var scratch = new Scratch("guest");
        var cache = scratch.CacheWithSharedKernel();
        var outDir = scratch.Path_("out");

        var panic = Run(Args("BootTest", cache, outDir, "--append=rdinit=/nonexistent init=/nonexistent"));
        AssertFails(panic, 1, $"Boot test of Linux {KilnRun.Key61} failed", "Kernel panic", "serial.log");
        using (var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "boot", "results.json"))))
            Assert.That(results.RootElement.GetProperty("passed").GetBoolean(), Is.False);

        var hang = scratch.Dir("tests");
        File.WriteAllText(Path.Combine(hang, "hang.sh"), "#!/bin/sh\nsleep 1000\n");
        var hung = Run(Args("BootTest", cache, outDir, "--test=" + Path.Combine(hang, "hang.sh"), "--timeout=15"));
        AssertFails(hung, 1, "timed out after 15", "hang.sh");
        Assert.That(hung.Duration, Is.LessThan(TimeSpan.FromSeconds(45)));
        Assert.That(QemuProcessesUsing(outDir), Is.Empty, "the hung QEMU must be killed");

        var clean = Run(Args("BootTest", cache, outDir));
        AssertSucceeds(clean);
        using (var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "boot", "results.json"))))
            Assert.That(results.RootElement.GetProperty("passed").GetBoolean(), Is.True, "results.json of the earlier failure must be replaced");
    }

    private static IReadOnlyList<int> QemuProcessesUsing(string path) =>
        Process.GetProcessesByName("qemu-system-x86_64").Where(p =>
        {
            try { return File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(path, StringComparison.Ordinal); }
            catch (IOException) { return false; }
        }).Select(p => p.Id).ToList();

    [Test]
    public void FullOutDirectoryThenRoom()
    {
        using var scratch = new Scratch("out-full");
        var cache = scratch.CacheWithSharedKernel();
        var outDir = scratch.Dir("out on tmpfs");
        using var tmpfs = Tmpfs.Mount(outDir, "1m");

        var run = Run(Args("BuildKernel", cache, outDir));
        AssertFails(run, 3, "No space left on device", outDir, "--out");
        Assert.That(Scratch.Listing(outDir), Has.None.StartsWith("."), "a cut-short temporary file was left in --out");
        Assert.That(File.Exists(Path.Combine(outDir, "metadata.json")), Is.False, "metadata.json marks a complete export; it comes last");
        Assert.That(Directory.Exists(Path.Combine(cache, "kernels", EntryName)), Is.True, "the cache entry is not to blame");

        tmpfs.Resize("256m");
        AssertSucceeds(Run(Args("BuildKernel", cache, outDir)));
        Assert.That(Sha256(Path.Combine(outDir, "bzImage")), Is.EqualTo(Sha256(Path.Combine(Scratch.SharedEntry, "bzImage"))));
    }

    [Test]
    public void PathsWithSpaces()
    {
        using var scratch = new Scratch("spaces");
        var repo = scratch.Inputs("repo with spaces");
        var cache = scratch.CacheWithSharedKernel("cache with spaces");
        var outDir = scratch.Path_("out with spaces");

        // A cache hit only copies and boots: any path works.
        var boot = Run(Args("BootTest", cache, outDir), repo);
        AssertSucceeds(boot);
        Assert.That(boot.Output, Does.Contain("Cache hit").And.Contain($"PASS: Linux {KilnRun.Key61}"));

        // kbuild cannot build under a path with spaces: said before make runs, as bad input.
        var configure = Run(Args("Configure", cache, outDir, "--no-cache"), repo);
        AssertFails(configure, 2, "has a space or colon in its path", "--cache-dir");

        // The repository (fragments, patches) may have spaces when the cache does not.
        var plainCache = scratch.Dir("cache");
        Directory.CreateSymbolicLink(Path.Combine(plainCache, "sources"), Path.Combine(cache, "sources"));
        AssertSucceeds(Run(Args("Configure", plainCache, outDir), repo));
    }

    /// <summary>
    /// A patch that breaks kernel/bounds.c, then the good inputs with the build killed half-way, then a rerun:
    /// the broken build stores nothing, the killed one leaves no entry and no artifacts, and the rerun builds
    /// (incrementally, from what the killed run compiled), stores a verified entry and replaces a damaged one.
    /// </summary>
    [Test]
    public void BuildErrorThenKilledBuildThenRerunSucceeds()
    {
        using var scratch = new Scratch("build");
        using var guard = new SharedTreeGuardScope();
        var cache = scratch.CacheWithSharedKernel();
        Scratch.CopyDirectory(Path.Combine(KilnRun.SharedCacheDir, "ccache"), Path.Combine(cache, "ccache"));
        var entry = Path.Combine(cache, "kernels", EntryName);
        File.WriteAllText(Path.Combine(entry, "bzImage"), "not a kernel"); // the rerun must not serve this
        var inputs = scratch.Inputs();
        var outDir = scratch.Path_("out");
        // kernel/bounds.c is the first kernel file kbuild compiles (in prepare), so the failure comes in well under
        // a minute; init/main.c would come after some 180 compile steps.
        var broken = Path.Combine(inputs, "patches", "6.1.x", "0002-kernel-break-the-build.patch");
        File.WriteAllText(broken, PatchConfigFaultTests.FormatPatch("kernel: break the build",
            "diff --git a/kernel/bounds.c b/kernel/bounds.c\n--- a/kernel/bounds.c\n+++ b/kernel/bounds.c\n" +
            "@@ -6,6 +6,7 @@\n  */\n \n #define __GENERATING_BOUNDS_H\n+#error Kiln reliability test: deliberate build error\n" +
            " /* Include headers that define the enum constants of interest */\n #include <linux/page-flags.h>\n #include <linux/mmzone.h>\n"));

        var failed = Run(Args("BuildKernel", cache, outDir), inputs);
        AssertFails(failed, 1, "The kernel build failed in", "kernel/bounds.c:9", "error: #error Kiln reliability test: deliberate build error", "Full log:", "build.log");
        Assert.That(Scratch.Listing(Path.Combine(cache, "kernels")), Is.EqualTo(new[] { EntryName }), "a failed build stored an entry");
        Assert.That(File.Exists(Path.Combine(outDir, "bzImage")), Is.False);

        File.Delete(broken);
        var killed = Run(Args("BuildKernel", cache, outDir), inputs, killWhen: l => l.Contains("Building bzImage"), killDelay: TimeSpan.FromSeconds(20));
        Assert.That(killed.Killed, Is.True, "the build should still have been running:\n" + killed);
        Assert.That(killed.Output, Does.Contain("Ignoring the damaged cache entry"));
        Assert.That(Scratch.Listing(Path.Combine(cache, "kernels")), Is.Empty, "a killed build stored an entry");
        Assert.That(File.Exists(Path.Combine(outDir, "bzImage")), Is.False, "a killed build exported artifacts");
        var buildLog = Path.Combine(outDir, "build.log");
        Assert.That(File.Exists(buildLog) ? File.ReadAllText(buildLog) : "", Does.Contain("  CC "),
            "a killed build leaves in build.log what make printed before the kill");
        // What a run killed while storing the entry leaves: a staging directory of a process that is gone.
        Directory.CreateDirectory(Path.Combine(cache, "kernels", $".{EntryName}.tmp-{DeadPid()}"));

        var rerun = Run(Args("BuildKernel", cache, outDir), inputs);
        AssertSucceeds(rerun);
        Assert.That(Scratch.Listing(Path.Combine(cache, "kernels")), Is.EqualTo(new[] { EntryName }), "staging leftovers in kernels/");
        using var metadata = JsonDocument.Parse(File.ReadAllText(Path.Combine(entry, "metadata.json")));
        Assert.That(metadata.RootElement.GetProperty("files").GetProperty("bzImage").GetString(), Is.EqualTo(Sha256(Path.Combine(entry, "bzImage"))));
        Assert.That(Sha256(Path.Combine(outDir, "bzImage")), Is.EqualTo(Sha256(Path.Combine(entry, "bzImage"))));
        Assert.That(Sha256(Path.Combine(outDir, "bzImage")), Is.EqualTo(Sha256(Path.Combine(Scratch.SharedEntry, "bzImage"))),
            "the rebuild after a failure and a kill gives the same bytes as a clean build");
    }

    /// <summary>A process id no process has (pids stay below pid_max).</summary>
    private static int DeadPid()
    {
        var max = int.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim());
        return max + 1;
    }
}

/// <summary>Checks the shared pristine tree at the end of a test that patches a tree linked from it.</summary>
public sealed class SharedTreeGuardScope : IDisposable
{
    private readonly SharedTreeGuard _guard = new();
    public void Dispose() => _guard.AssertUntouched();
}
