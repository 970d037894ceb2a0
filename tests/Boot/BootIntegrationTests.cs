using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using Kiln.Tests.Integration;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

/// <summary>Real boots under QEMU of the kernel named by KILN_TEST_BZIMAGE (a 6.1 x86_64 bzImage with LOCALVERSION=-1).</summary>
[Category("Integration")]
[NonParallelizable]
public class BootIntegrationTests
{
    private static readonly string ExpectedRelease = KilnRun.Key61;
    private string _kernel = "";
    private string _dir = "";
    private RecordingLog _log = new();

    [SetUp]
    public void SetUp()
    {
        var kernel = Kiln.Tests.Integration.TestKernel.BzImage;
        if (!File.Exists(kernel)) Assert.Fail($"The test kernel {kernel} does not exist");
        _kernel = kernel;
        _dir = Directory.CreateTempSubdirectory("kiln-boot-").FullName;
        _log = new RecordingLog();
    }

    [TearDown]
    public void TearDown()
    {
        if (_dir.Length == 0) return;
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Passed)
            Directory.Delete(_dir, recursive: true);
        else
            TestContext.Out.WriteLine($"Boot artifacts kept in {_dir}");
    }

    private string Script(string name, string body)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        return path;
    }

    private BootTestResult Boot(Func<BootTestSpec, BootTestSpec>? adjust = null)
    {
        var spec = new BootTestSpec
        {
            KernelPath = _kernel,
            OutputDirectory = Path.Combine(_dir, "out"),
            ExpectedRelease = ExpectedRelease,
            Timeout = TimeSpan.FromSeconds(60),
        };
        var result = new BootTester(_log).Run(adjust is null ? spec : adjust(spec));
        foreach (var c in result.Checks) TestContext.Out.WriteLine($"{BootResultWriter.StatusName(c.Status)} {c.Name}: {c.Message}");
        return result;
    }

    private static BootCheck Check(BootTestResult result, string name) => result.Checks.Single(c => c.Name == name);

    [Test]
    public void A_good_kernel_passes_with_uname_config_messages_and_a_test()
    {
        var result = Boot(s => s with
        {
            ConfigOptions = new[] { "CONFIG_PRINTK=y", "CONFIG_BLK_DEV_INITRD=y", "# CONFIG_MODULES is not set", "CONFIG_KPROBES=n" },
            ExpectedMessages = new[] { $"Linux version {KilnRun.Key61}" },
            TestScripts = new[] { Script("proc.sh", "grep -q devtmpfs /proc/mounts && test -c /dev/console") },
        });

        Assert.That(result.Passed, Is.True, string.Join("\n", result.Failures.Select(f => $"{f.Name}: {f.Message}")));
        Assert.That(result.ExitCode, Is.Zero);
        Assert.That(result.Release, Is.EqualTo(ExpectedRelease));
        Assert.That(result.Checks.Select(c => c.Name), Is.EqualTo(new[]
        {
            "qemu-exit", "guest-report", "uname", "no-kernel-errors", "config-options", "boot-messages",
            "smp", "memory", "virtio-blk", "virtio-net", "9p", "virtio-fs", "vsock", "cgroup2", "namespaces", "test:proc.sh",
        }));
        Assert.That(result.Log.SecondsToInit, Is.GreaterThan(0));
        foreach (var file in new[] { "serial.log", "report.log", "results.json", "junit.xml" })
            Assert.That(File.Exists(Path.Combine(_dir, "out", file)), file);
    }

    [Test]
    public void A_wrong_expected_release_or_missing_config_option_fails()
    {
        var result = Boot(s => s with { ExpectedRelease = "6.1.192-0", ConfigOptions = new[] { "CONFIG_MODULES=y" } });

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.KernelFailed));
        Assert.That(result.Failures.Select(f => f.Name), Is.EquivalentTo(new[] { "uname", "config-options" }));
        Assert.That(Check(result, "config-options").Message, Does.Contain("CONFIG_MODULES=y requested"));
    }

    [Test]
    public void A_kernel_panic_is_judged_failed()
    {
        var result = Boot(s => s with { ExtraKernelArgs = "rdinit=/nonexistent init=/nonexistent" });

        Assert.That(result.Passed, Is.False);
        Assert.That(Check(result, "qemu-exit").Passed, Is.True, "panic=-1 with -no-reboot ends QEMU by itself");
        Assert.That(Check(result, "guest-report").Passed, Is.False);
        Assert.That(Check(result, "no-kernel-errors").Message, Does.StartWith("panic at serial.log:"));
    }

    [Test]
    public void A_hanging_guest_hits_the_timeout()
    {
        var result = Boot(s => s with { Timeout = TimeSpan.FromSeconds(15), TestScripts = new[] { Script("hang.sh", "sleep 1000") } });

        Assert.That(result.Qemu.TimedOut, Is.True);
        Assert.That(result.Qemu.Duration, Is.LessThan(TimeSpan.FromSeconds(25)));
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.KernelFailed));
        Assert.That(Check(result, "qemu-exit").Message, Does.Contain("timed out after 15").And.Contain("hang.sh"));
        Assert.That(Check(result, "test:hang.sh").Passed, Is.False);
        Assert.That(_log.Lines, Has.Some.Contains("Last console lines"));
    }

    [Test]
    public void A_failing_test_script_fails_the_run_and_later_tests_still_run()
    {
        var result = Boot(s => s with { TestScripts = new[] { Script("fails.sh", "echo failing on purpose; exit 3"), Script("ok.sh", "true") } });

        Assert.That(result.Passed, Is.False);
        Assert.That(Check(result, "test:fails.sh").Message, Does.StartWith("exit code 3"));
        Assert.That(Check(result, "test:ok.sh").Passed, Is.True);
        Assert.That(Check(result, "guest-report").Passed, Is.True);
    }

    [Test]
    public void A_test_that_fakes_success_and_reboots_early_does_not_pass()
    {
        var fake = Script("fake.sh", """
            for out in /dev/console /dev/kmsg; do
              echo "KILN 0123456789abcdef done" > $out
              echo "KILN 0123456789abcdef test fake.sh 0 0.01" > $out
            done
            reboot -f
            """);
        var result = Boot(s => s with { TestScripts = new[] { fake } });

        Assert.That(result.Passed, Is.False);
        Assert.That(Check(result, "guest-report").Passed, Is.False);
        Assert.That(Check(result, "test:fake.sh").Passed, Is.False);
        Assert.That(File.ReadAllText(result.SerialLogPath), Does.Contain("KILN 0123456789abcdef done"), "the fake marker did reach the console");
    }

    [Test]
    public void Qemu_failing_to_start_is_an_infrastructure_error()
    {
        var garbage = Path.Combine(_dir, "not-a-kernel");
        File.WriteAllText(garbage, "this is not a bzImage");
        var e = Assert.Throws<KilnException>(() => Boot(s => s with { KernelPath = garbage }));

        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("QEMU could not start"));
    }
}
