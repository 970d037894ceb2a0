using Kiln.Kernel;
using Kiln.Kernel.Boot;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

/// <summary>BootTester's verdict on what a hostile or careless guest reported: forged, repeated or cut-short reports.</summary>
public class GuestVerdictTests
{
    private const string Nonce = "00112233aabbccdd";
    private static readonly GuestTest Probe = new("probe.sh", "/tests/probe.sh");

    private static QemuRunResult Run(string? halt = null, int? exitCode = 0) =>
        new("qemu-system-x86_64", Accelerator.Tcg, TimeSpan.FromSeconds(120), false, exitCode, TimeSpan.FromSeconds(9), "serial.log", []) { GuestHalt = halt };

    private static IReadOnlyList<BootCheck> Judge(QemuRunResult run, params string[] lines) =>
        BootTester.Judge(new BootTestSpec { KernelPath = "bzImage", OutputDirectory = "out" }, [], [Probe], run,
            GuestReport.Parse(lines, Nonce), BootLogAnalyzer.Analyze([]), [], []);

    private static string L(params string[] words) => GuestReport.FormatLine(Nonce, words[0], words[1..]);

    private static BootCheck Check(IReadOnlyList<BootCheck> checks, string name) => checks.Single(c => c.Name == name);

    [Test]
    public void A_test_that_writes_a_pass_for_itself_before_init_fails_and_the_forged_line_is_named()
    {
        var checks = Judge(Run(),
            L("start"), L("uname", "6.1.192-2"), L("begin", "probe.sh"),
            "KILN 0123456789abcdef test probe.sh 0 0.01", "KILN 0123456789abcdef done",
            L("test", "probe.sh", "1", "0.30"), L("done"));

        Assert.That(Check(checks, "test:probe.sh").Failed, Is.True);
        Assert.That(Check(checks, "test:probe.sh").Message, Does.Contain("exit code 1"));
        var report = Check(checks, "guest-report");
        Assert.That(report.Failed, Is.True);
        Assert.That(report.Message, Does.Contain("line 4 was not written by this run's init: 'KILN 0123456789abcdef test probe.sh 0 0.01'")
            .And.Contain("(and 1 more)"));
    }

    [Test]
    public void A_result_reported_twice_with_the_nonce_fails_whichever_line_came_first()
    {
        var checks = Judge(Run(),
            L("start"), L("begin", "probe.sh"), L("test", "probe.sh", "0", "0.01"), L("test", "probe.sh", "1", "0.30"), L("done"));

        Assert.That(Check(checks, "test:probe.sh").Failed, Is.True);
        Assert.That(Check(checks, "test:probe.sh").Message, Does.Contain("reported more than once"));
        Assert.That(Check(checks, "guest-report").Message, Does.Contain("contradicts the earlier 'test probe.sh 0 0.01'"));
    }

    [Test]
    public void A_repeated_completion_fails_the_report()
    {
        var checks = Judge(Run(), L("start"), L("begin", "probe.sh"), L("test", "probe.sh", "0", "0.01"), L("done"), L("done"));

        Assert.That(Check(checks, "test:probe.sh").Passed, Is.True);
        Assert.That(Check(checks, "guest-report").Message, Does.Contain("line 5 repeats 'done'"));
    }

    [Test]
    public void A_clean_report_passes()
    {
        var checks = Judge(Run(), L("start"), L("begin", "probe.sh"), L("test", "probe.sh", "0", "0.01"), L("done"));

        Assert.That(Check(checks, "guest-report").Passed && Check(checks, "test:probe.sh").Passed && Check(checks, "qemu-exit").Passed, Is.True);
    }

    [Test]
    public void A_guest_that_powers_off_in_a_test_fails_it_with_that_reason_and_is_no_timeout()
    {
        var checks = Judge(Run("[    2.572128] reboot: System halted", exitCode: null), L("start"), L("begin", "probe.sh"));

        Assert.That(Check(checks, "qemu-exit").Passed, Is.True);
        Assert.That(Check(checks, "qemu-exit").Message, Does.Contain("the guest halted").And.Not.Contain("timed out"));
        Assert.That(Check(checks, "test:probe.sh").Message, Is.EqualTo(
            "started but never finished: the guest powered off or halted while it ran ([    2.572128] reboot: System halted)"));
        Assert.That(Check(checks, "guest-report").Message, Does.Contain("the guest powered off or halted first"));
    }
}
