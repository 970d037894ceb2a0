using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kiln.Tests.Integration;

/// <summary>
/// The main job end to end, as users run it: build Linux 6.1 offline from Debian's source, boot it,
/// rerun as a cache hit, and fail clearly where the kernel is at fault. That the same inputs give the same bytes is
/// ReproduceTests' (Extended): a rebuild here would share the warm ccache and only replay its objects.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class PipelineTests
{
    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static string NewOutDir() => Path.Combine(Path.GetTempPath(), "kiln-test-out-" + Guid.NewGuid().ToString("N")[..8]);

    private static KilnRunResult BootTest(params string[] extra) =>
        KilnRun.Run(new[] { "--target=BootTest", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + NewOutDir() }.Concat(extra));

    /// <summary>The run compiled the kernel: no cache hit, and make's log in --out lists the compile and link steps.</summary>
    private static void AssertCompiled(KilnRunResult run, string outDir)
    {
        Assert.That(run.Output, Does.Not.Contain("Cache hit"), run.ToString());
        var buildLog = Path.Combine(outDir, "build.log");
        Assert.That(File.Exists(buildLog), Is.True, "make's log is written only when make runs: " + run);
        var steps = File.ReadAllLines(buildLog);
        var compiled = steps.Where(l => Regex.IsMatch(l, @"^\s{2}CC\s+\S+\.o$")).ToList();
        Assert.That(compiled.Count, Is.GreaterThan(300), "compile steps in " + buildLog);
        Assert.That(compiled, Does.Contain("  CC      init/main.o"));
        Assert.That(compiled, Does.Contain("  CC      kernel/fork.o"));
        Assert.That(steps, Has.Some.Match(@"^\s{2}LD\s+vmlinux$"));
        Assert.That(steps, Has.Some.Match(@"^Kernel: arch/x86/boot/bzImage is ready"));
        Assert.That(run.Output, Does.Match($@"Built Linux {Regex.Escape(KilnRun.Key61)} in \d\d:\d\d \(\d{{3,}} steps\)"));
    }

    [Test, Order(1)]
    public void BuildKernel_from_nothing_compiles_and_writes_artifacts_and_metadata()
    {
        var cacheDir = KilnRun.NewEmptyCache();
        try
        {
            var outDir = NewOutDir();
            var run = KilnRun.Run(new[] { "--target=BuildKernel", "--kernel=6.1", "--cache-dir=" + cacheDir, "--out=" + outDir });
            Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
            AssertCompiled(run, outDir);

            foreach (var file in new[] { "bzImage", "vmlinux", "System.map", "config", "metadata.json" })
                Assert.That(File.Exists(Path.Combine(outDir, file)), Is.True, file);
            using var metadata = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metadata.json")));
            var root = metadata.RootElement;
            Assert.That(root.GetProperty("key").GetString(), Is.EqualTo(KilnRun.Key61));
            Assert.That(root.GetProperty("release").GetString(), Is.EqualTo(KilnRun.Key61));
            Assert.That(root.GetProperty("source").GetProperty("provider").GetString(), Is.EqualTo("debian:linux-source-6.1"));
            Assert.That(root.GetProperty("files").GetProperty("bzImage").GetString(), Is.EqualTo(Sha256(Path.Combine(outDir, "bzImage"))));
            Assert.That(File.ReadAllText(Path.Combine(outDir, "config")), Does.Contain("CONFIG_VIRTIO_PCI=y"));

            // The UAPI headers (what headers_install installs), for the OCI image's /kernel-headers.tar.
            var headers = Path.Combine(outDir, "kernel-headers.tar");
            Assert.That(root.GetProperty("files").GetProperty("kernel-headers.tar").GetString(), Is.EqualTo(Sha256(headers)));
            var version = Kiln.Tests.Packaging.PackageReader.ReadTar(headers)["usr/include/linux/version.h"].Data;
            Assert.That(System.Text.Encoding.ASCII.GetString(version), Does.Contain("#define LINUX_VERSION_CODE 393664"), "6.1.192");
        }
        finally
        {
            Directory.Delete(cacheDir, recursive: true);  // removes the links, not the shared source tree and ccache
        }
    }

    [Test, Order(2)]
    public void Unchanged_rerun_is_a_cache_hit_in_seconds()
    {
        _ = SharedKernel.OutDir;
        var outDir = NewOutDir();
        var run = KilnRun.Run(new[] { "--target=BuildKernel", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir });
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain("Cache hit"));
        Assert.That(run.Output, Does.Contain("Patch: skipped, cache hit"));
        Assert.That(Sha256(Path.Combine(outDir, "bzImage")), Is.EqualTo(Sha256(SharedKernel.BzImage)));
        Assert.That(run.Duration, Is.LessThan(TimeSpan.FromSeconds(30)), "a cache hit must not rebuild");
    }

    [Test, Order(3)]
    public void BootTest_passes_and_reports_every_check()
    {
        var outDir = NewOutDir();
        var run = KilnRun.Run(new[] { "--target=BootTest", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir });
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain($"PASS: Linux {KilnRun.Key61}"));
        var boot = Path.Combine(outDir, "boot");
        Assert.That(File.ReadAllText(Path.Combine(boot, "serial.log")), Does.Contain("Kiln guest kernel: patch series 6.1.x applied"));
        Assert.That(File.ReadAllText(Path.Combine(boot, "junit.xml")), Does.Contain("<testsuite"));
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(boot, "results.json")));
        Assert.That(results.RootElement.GetProperty("passed").GetBoolean(), Is.True);
        // The default machine, with its devices exercised by the guest.
        Assert.That(results.RootElement.GetProperty("machine").GetString(), Is.EqualTo("q35"));
        var checks = results.RootElement.GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString());
        foreach (var device in new[] { "smp", "virtio-blk", "virtio-net", "9p", "memory", "cgroup2", "namespaces" })
            Assert.That(checks[device], Is.EqualTo("pass"), device);
        Assert.That(checks["vsock"], Is.EqualTo("skipped"));
        Assert.That(run.Output, Does.Contain("Compiled, not exercised"));
    }

    [Test, Order(4)]
    public void A_kernel_that_panics_fails_the_boot_test()
    {
        var run = BootTest("--append=rdinit=/nonexistent init=/nonexistent");
        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        Assert.That(run.Output, Does.Contain("Kernel panic"));
    }

    [Test, Order(5)]
    public void A_failing_user_test_fails_and_a_passing_one_passes()
    {
        var dir = Directory.CreateTempSubdirectory("kiln-guest-tests").FullName;
        var pass = Path.Combine(dir, "proc-mounted.sh");
        File.WriteAllText(pass, "#!/bin/sh\ntest -r /proc/version\n");
        var fail = Path.Combine(dir, "always-fails.sh");
        File.WriteAllText(fail, "#!/bin/sh\necho 'this test fails on purpose'\nexit 7\n");

        var good = BootTest("--test=" + pass);
        Assert.That(good.ExitCode, Is.EqualTo(0), good.ToString());

        var bad = BootTest("--test=" + pass, "--test=" + fail);
        Assert.That(bad.ExitCode, Is.EqualTo(1), bad.ToString());
        Assert.That(bad.Output, Does.Contain("always-fails"));
    }

    [Test, Order(6)]
    public void A_hanging_guest_hits_the_timeout()
    {
        var dir = Directory.CreateTempSubdirectory("kiln-guest-tests").FullName;
        var hang = Path.Combine(dir, "hang.sh");
        File.WriteAllText(hang, "#!/bin/sh\nsleep 1000\n");
        var run = BootTest("--test=" + hang, "--timeout=20");
        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        Assert.That(run.Output, Does.Contain("timed out").IgnoreCase);
        Assert.That(run.Duration, Is.LessThan(TimeSpan.FromSeconds(60)));
    }

    [Test, Order(7)]
    public void A_fake_success_marker_in_the_console_does_not_pass()
    {
        var dir = Directory.CreateTempSubdirectory("kiln-guest-tests").FullName;
        var fake = Path.Combine(dir, "fake-pass.sh");
        File.WriteAllText(fake, "#!/bin/sh\nfor m in 'KILN done' 'PASS' 'all checks passed'; do echo \"$m\" > /dev/console; echo \"$m\" > /dev/kmsg; done\nreboot -f\n");
        var outDir = NewOutDir();
        var run = KilnRun.Run(new[] { "--target=BootTest", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir, "--test=" + fake });
        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        var boot = Path.Combine(outDir, "boot");
        Assert.That(File.ReadAllText(Path.Combine(boot, "serial.log")), Does.Contain("KILN done").And.Contain("all checks passed"), "the fake markers reached the console");

        // It failed because the markers carry no nonce: init's report never completed and the test never finished.
        // Nothing else failed (no timeout, no kernel error), so the markers were ignored rather than something else breaking.
        Assert.That(run.Output, Does.Contain($"Boot test of Linux {KilnRun.Key61} failed: guest-report: init started but never reported completion")
            .And.Contain("test:fake-pass.sh: started but never finished"), run.ToString());
        Assert.That(run.Output, Does.Not.Contain("PASS: Linux"));
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(boot, "results.json")));
        var failed = results.RootElement.GetProperty("checks").EnumerateArray()
            .Where(c => c.GetProperty("status").GetString() == "fail").Select(c => c.GetProperty("name").GetString());
        Assert.That(failed, Is.EquivalentTo(new[] { "guest-report", "test:fake-pass.sh" }), run.ToString());
        Assert.That(results.RootElement.GetProperty("timedOut").GetBoolean(), Is.False);
    }
}
