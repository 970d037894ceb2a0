using Kiln.Kernel.Processes;
using Kiln.Kernel.Diagnostics;
using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Reliability;

/// <summary>
/// A cache others can write, an entry another user owns, and an --out that still held the last run's kernel after a
/// failed run, through the real host on a scratch cache holding a copy of the shared 6.1 kernel's entry (cache hits:
/// seconds, no compile).
/// </summary>
[TestFixture]
[Category("Reliability")]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CacheTrustFaultTests
{
    private static string EntryName => Path.GetFileName(Scratch.SharedEntry);

    private static string[] Args(string target, string cache, string @out) =>
        new[] { "--target=" + target, "--kernel=6.1", "--source=debian", "--cache-dir=" + cache, "--out=" + @out };

    private static void Chown(string uid, string path) => new Command("chown", "-R", uid, path).Run(new RecordingLog());

    [Test]
    public void A_cache_directory_others_can_write_is_refused_until_its_mode_is_fixed()
    {
        using var scratch = new Scratch("trust-mode");
        var cache = scratch.CacheWithSharedKernel();
        File.SetUnixFileMode(cache, (UnixFileMode)0b111_111_111);

        var run = Run(Args("BuildKernel", cache, scratch.Path_("out")));
        AssertFails(run, 2, $"--cache-dir {cache} is writable by group and others", $"chmod go-w {cache}");
        Assert.That(File.Exists(scratch.Path_("out/bzImage")), Is.False, "nothing from the untrusted cache is exported");

        File.SetUnixFileMode(cache, (UnixFileMode)0b111_101_101);
        run = Run(Args("BuildKernel", cache, scratch.Path_("out")));
        AssertSucceeds(run);
        Assert.That(run.Output, Does.Contain("Cache hit"));
    }

    [Test]
    public void A_kernel_entry_owned_by_another_user_is_refused_not_booted()
    {
        Prerequisite.Require(Environment.UserName == "root", "giving a file to another user (chown) needs root");
        using var scratch = new Scratch("trust-owner");
        var cache = scratch.CacheWithSharedKernel();
        var entry = Path.Combine(cache, "kernels", EntryName);
        Chown("65534", entry);

        var run = Run(Args("Setup", cache, scratch.Path_("out")));
        AssertFails(run, 2, $"The kernel cache entry {entry} is owned by uid 65534, not by you (uid 0)", "chown -R 0 " + entry);
        Assert.That(Directory.Exists(entry), Is.True, "refused, not deleted");

        Chown("0", entry);
        run = Run(Args("Setup", cache, scratch.Path_("out")));
        AssertSucceeds(run);
        Assert.That(run.Output, Does.Not.Contain("No cached kernel"));
    }

    /// <summary>
    /// The entry's bzImage gets one more byte while the guest boots (it still boots: the byte is past the image): the
    /// package must not carry it under the sha256 Setup checked. Kiln packages a copy it hashed itself, so the run fails.
    /// </summary>
    [Test]
    public void An_image_changed_during_the_boot_is_not_packaged()
    {
        using var scratch = new Scratch("trust-package");
        var cache = scratch.CacheWithSharedKernel();
        var image = Path.Combine(cache, "kernels", EntryName, "bzImage");
        var changed = false;
        void Tamper(string line)
        {
            if (changed || !line.Contains("Booting Linux", StringComparison.Ordinal)) return;
            using (var f = new FileStream(image, FileMode.Append)) f.WriteByte(0);
            changed = true;
        }

        var run = Run(Args("PackageStage1", cache, scratch.Path_("out")), onLine: Tamper);
        Assert.That(changed, Is.True, run.ToString());
        AssertFails(run, 3, image + " changed after it was verified", "nothing was packaged");
        Assert.That(Scratch.Listing(scratch.Path_("out/package")), Is.Empty, "no package of unverified bytes");
        Assert.That(Scratch.Listing(scratch.Path_("out")).Where(n => n.StartsWith(".package.tmp-", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void After_a_failed_run_out_holds_no_kernel_of_an_earlier_run()
    {
        using var scratch = new Scratch("trust-out");
        var cache = scratch.CacheWithSharedKernel();
        var @out = scratch.Path_("out");
        AssertSucceeds(Run(Args("BuildKernel", cache, @out)));
        Assert.That(File.Exists(Path.Combine(@out, "bzImage")) && File.Exists(Path.Combine(@out, "metadata.json")), Is.True);

        // The next run's inputs carry a patch that does not apply: it fails in Patch, after Setup.
        var inputs = scratch.Inputs();
        File.WriteAllText(Path.Combine(inputs, "patches", "6.1.x", "0002-init-stale-context.patch"), PatchConfigFaultTests.FormatPatch("init: stale context",
            "diff --git a/init/main.c b/init/main.c\n--- a/init/main.c\n+++ b/init/main.c\n" +
            "@@ -10,3 +10,4 @@\n this line is not in main.c\n nor is this one\n+\tadded();\n and neither is this\n"));
        var run = Run(Args("BuildKernel", cache, @out), inputs);
        AssertFails(run, 1, "does not apply");
        Assert.That(Scratch.Listing(@out).Where(f => f is "bzImage" or "vmlinux" or "System.map" or "config" or "metadata.json" or "kernel-headers.tar"), Is.Empty,
            "the earlier run's kernel must not read as this run's");
    }
}
