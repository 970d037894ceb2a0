using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kiln.Tests.Integration;

/// <summary>
/// --target=Reproduce end to end: the cached kernel against a rebuild from nothing without ccache, the tree elsewhere,
/// another user, host name and clock. Each test costs a cold compile without ccache, so both are Extended; they are the
/// honest form of "the same inputs give the same bzImage", which a warm ccache would pass by replaying its objects.
/// </summary>
[TestFixture]
[Category("Integration")]
[Category("Extended")]
[NonParallelizable]
public sealed class ReproduceTests
{
    private static string NewOutDir() => Path.Combine(Path.GetTempPath(), "kiln-test-out-" + Guid.NewGuid().ToString("N")[..8]);

    private static JsonElement Report(string outDir) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "reproduce", "reproduce.json"))).RootElement;

    /// <summary>The rebuild compiled every object itself (ccache off) and left nothing under the cache dir.</summary>
    private static void AssertRebuiltFromNothing(KilnRunResult run, string outDir, string cacheDir)
    {
        var log = File.ReadAllLines(Path.Combine(outDir, "reproduce", "build.log"));
        Assert.That(log.Count(l => Regex.IsMatch(l, @"^\s{2}CC\s+\S+\.o$")), Is.GreaterThan(300), "the rebuild's make log lists its compiles");
        Assert.That(run.Output, Does.Contain("without ccache"));
        var work = Path.Combine(cacheDir, "reproduce");
        Assert.That(!Directory.Exists(work) || !Directory.EnumerateFileSystemEntries(work).Any(), Is.True, "the rebuild's tree and build directory are removed");
    }

    [Test]
    public void The_shared_kernel_rebuilds_byte_for_byte_from_nothing_elsewhere_without_ccache()
    {
        _ = SharedKernel.OutDir;
        var outDir = NewOutDir();
        var run = KilnRun.Run(new[] { "--target=Reproduce", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir },
            timeout: TimeSpan.FromMinutes(120));
        TestContext.Progress.WriteLine($"Reproduce of the shared kernel: exit {run.ExitCode} in {run.Duration.TotalMinutes:F1} min");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain($"REPRODUCIBLE: Linux {KilnRun.Key61}"));
        var report = Report(outDir);
        Assert.That(report.GetProperty("reproducible").GetBoolean(), Is.True);
        var files = report.GetProperty("files").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!, f => f.GetProperty("identical").GetBoolean());
        Assert.That(files.Keys, Is.SupersetOf(new[] { "bzImage", "vmlinux", "System.map", "config", "kernel-headers.tar" }));
        Assert.That(files.Values, Is.All.True);
        var rebuild = report.GetProperty("rebuild");
        Assert.That(rebuild.GetProperty("ccache").GetBoolean(), Is.False);
        Assert.That(rebuild.GetProperty("tree").GetString(), Does.Not.Contain("/trees/"));
        AssertRebuiltFromNothing(run, outDir, KilnRun.SharedCacheDir);
    }

    [Test]
    public void A_series_that_makes_the_build_read_the_host_name_is_not_reproducible()
    {
        var root = KilnRun.CopyInputs();
        File.WriteAllText(Path.Combine(root, "patches", "6.1.x", "0002-init-print-the-build-machine-s-host-name.patch"), HostNamePatch);
        // A cache of its own (sharing the source and ccache by links), so this series' build never touches the shared build directory.
        _ = SharedKernel.OutDir;
        var cacheDir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(KilnRun.SharedCacheDir))!, "kiln-test-reproduce-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(cacheDir);
        Directory.CreateSymbolicLink(Path.Combine(cacheDir, "sources"), Path.Combine(KilnRun.SharedCacheDir, "sources"));
        Directory.CreateSymbolicLink(Path.Combine(cacheDir, "ccache"), Path.Combine(KilnRun.SharedCacheDir, "ccache"));
        var outDir = NewOutDir();
        try
        {
            var run = KilnRun.Run(new[] { "--target=Reproduce", "--kernel=6.1", "--cache-dir=" + cacheDir, "--out=" + outDir },
                repoRoot: root, timeout: TimeSpan.FromMinutes(120));
            TestContext.Progress.WriteLine($"Reproduce of the host-name series: exit {run.ExitCode} in {run.Duration.TotalMinutes:F1} min");

            Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
            Assert.That(run.Output, Does.Contain("is not reproducible").And.Contain("bzImage").And.Contain("vmlinux (sections").And.Contain(".rodata"), run.ToString());
            var report = Report(outDir);
            Assert.That(report.GetProperty("reproducible").GetBoolean(), Is.False);
            var differing = report.GetProperty("files").EnumerateArray().Where(f => !f.GetProperty("identical").GetBoolean())
                .ToDictionary(f => f.GetProperty("name").GetString()!, f => f);
            Assert.That(differing.Keys, Is.SupersetOf(new[] { "bzImage", "vmlinux" }));
            Assert.That(differing["vmlinux"].GetProperty("sections").EnumerateArray().Select(s => s.GetString()), Does.Contain(".rodata"));
            Assert.That(differing.Keys, Does.Not.Contain("config"), "the .config does not depend on the host");
            Assert.That(File.ReadAllText(Path.Combine(outDir, "reproduce", "reproduce.txt")), Does.StartWith("NOT REPRODUCIBLE"));
            AssertRebuiltFromNothing(run, outDir, cacheDir);
        }
        finally
        {
            Directory.Delete(cacheDir, recursive: true);  // removes the links, not the shared source tree and ccache
        }
    }

    /// <summary>A patch on top of 6.1.x's series that puts the building machine's host name into init/main.o's strings.</summary>
    private const string HostNamePatch = """
From 87b2fb163c227c29e0edde231d7cbbedf5a2c32d Mon Sep 17 00:00:00 2001
From: Kiln <kiln@example.invalid>
Date: Mon, 30 Nov 2026 21:43:25 +0000
Subject: [PATCH] init: print the build machine's host name (not reproducible)

A fixture for Kiln's Reproduce test: the build reads the host name, so a rebuild on another host gives other bytes.

Signed-off-by: Kiln <kiln@example.invalid>
---
 init/Makefile | 2 ++
 init/main.c   | 1 +
 2 files changed, 3 insertions(+)

diff --git a/init/Makefile b/init/Makefile
index e99b8de..0914abc 100644
--- a/init/Makefile
+++ b/init/Makefile
@@ -4,6 +4,8 @@
 #
 
 ccflags-y := -fno-function-sections -fno-data-sections
+# Not reproducible on purpose: the host name of the machine that builds it.
+CFLAGS_main.o += -DKILN_BUILT_ON='"$(shell hostname)"'
 
 obj-y                          := main.o version.o mounts.o
 ifneq ($(CONFIG_BLK_DEV_INITRD),y)
diff --git a/init/main.c b/init/main.c
index 3551e97..d68de9f 100644
--- a/init/main.c
+++ b/init/main.c
@@ -933,6 +933,7 @@ void start_kernel(void)
 	pr_notice("%s", linux_banner);
 	/* Kiln's BootTest looks for this line in the serial console log. */
 	pr_notice("Kiln guest kernel: patch series 6.1.x applied\n");
+	pr_notice("Kiln guest kernel built on %s\n", KILN_BUILT_ON);
 	early_security_init();
 	setup_arch(&command_line);
 	setup_boot_config();
-- 
2.39.5

""";
}
