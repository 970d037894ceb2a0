using System.IO.Compression;
using System.Text;
using Kiln.Kernel.Boot;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

public class GuestReportTests
{
    private const string Nonce = "00112233aabbccdd";

    private static string GzipBase64(string text)
    {
        var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true)) gzip.Write(Encoding.UTF8.GetBytes(text));
        return Convert.ToBase64String(buffer.ToArray());
    }

    [Test]
    public void Parses_a_complete_report_and_decodes_the_config_from_chunks()
    {
        var config = GzipBase64("CONFIG_PRINTK=y\n# CONFIG_MODULES is not set\n");
        var lines = new List<string>
        {
            GuestReport.FormatLine(Nonce, "start") + "\r",
            GuestReport.FormatLine(Nonce, "uname", "6.1.192-1"),
        };
        lines.AddRange(config.Chunk(16).Select(c => GuestReport.FormatLine(Nonce, "config", new string(c))));
        lines.Add(GuestReport.FormatLine(Nonce, "begin", "a.sh"));
        lines.Add(GuestReport.FormatLine(Nonce, "test", "a.sh", "0", "0.25"));
        lines.Add(GuestReport.FormatLine(Nonce, "done"));

        var report = GuestReport.Parse(lines, Nonce);

        Assert.That(report.Started && report.Done, Is.True);
        Assert.That(report.Release, Is.EqualTo("6.1.192-1"));
        Assert.That(report.DecodeConfig(), Does.Contain("# CONFIG_MODULES is not set"));
        Assert.That(report.Tests, Is.EqualTo(new[] { new GuestTestReport("a.sh", 0, 0.25) }));
    }

    [Test]
    public void A_complete_report_from_init_has_no_problems()
    {
        var report = GuestReport.Parse(new[]
        {
            GuestReport.FormatLine(Nonce, "start"), GuestReport.FormatLine(Nonce, "config", "AAAA"), GuestReport.FormatLine(Nonce, "config", "AAAA"),
            GuestReport.FormatLine(Nonce, "begin", "a.sh"), GuestReport.FormatLine(Nonce, "test", "a.sh", "1", "0.25"),
            GuestReport.FormatLine(Nonce, "begin", "b.sh"), GuestReport.FormatLine(Nonce, "test", "b.sh", "0", "0.25"),
            "", "\r", GuestReport.FormatLine(Nonce, "done"),
        }, Nonce);

        Assert.That(report.Problems, Is.Empty, "config chunks may repeat; blank lines are not lines");
        Assert.That(report.IsTestDisputed("a.sh"), Is.False);
    }

    [Test]
    public void A_forged_line_without_the_nonce_is_a_problem_and_does_not_count()
    {
        var report = GuestReport.Parse(new[]
        {
            GuestReport.FormatLine(Nonce, "begin", "a.sh"),
            "KILN 0123456789abcdef test a.sh 0 0.01",
            GuestReport.FormatLine(Nonce, "test", "a.sh", "1", "0.25"),
        }, Nonce);

        Assert.That(report.Tests, Is.EqualTo(new[] { new GuestTestReport("a.sh", 1, 0.25) }));
        Assert.That(report.Problems, Is.EqualTo(new[] { "line 2 was not written by this run's init: 'KILN 0123456789abcdef test a.sh 0 0.01'" }));
    }

    [Test]
    public void A_second_result_for_a_test_disputes_it_whichever_comes_first()
    {
        var forgedFirst = GuestReport.Parse(new[]
        {
            GuestReport.FormatLine(Nonce, "test", "a.sh", "0", "0.01"),
            GuestReport.FormatLine(Nonce, "test", "a.sh", "1", "0.25"),
        }, Nonce);

        Assert.That(forgedFirst.IsTestDisputed("a.sh"), Is.True);
        Assert.That(forgedFirst.Problems, Is.EqualTo(new[] { "line 2 'test a.sh 1 0.25' contradicts the earlier 'test a.sh 0 0.01'" }));
    }

    [Test]
    public void A_repeated_completion_or_identical_result_is_a_problem()
    {
        var report = GuestReport.Parse(new[]
        {
            GuestReport.FormatLine(Nonce, "test", "a.sh", "0", "0.01"),
            GuestReport.FormatLine(Nonce, "done"),
            GuestReport.FormatLine(Nonce, "test", "a.sh", "0", "0.01"),
            GuestReport.FormatLine(Nonce, "done"),
        }, Nonce);

        Assert.That(report.IsTestDisputed("a.sh"), Is.True);
        Assert.That(report.Problems, Is.EqualTo(new[] { "line 3 repeats 'test a.sh 0 0.01'", "line 4 repeats 'done'" }));
    }

    [Test]
    public void A_check_reported_twice_fails_and_a_value_reported_twice_is_dropped()
    {
        var report = GuestReport.Parse(new[]
        {
            GuestReport.FormatLine(Nonce, "check", "cgroup2", "fail", "mount", "failed"),
            GuestReport.FormatLine(Nonce, "check", "cgroup2", "ok", "forged"),
            GuestReport.FormatLine(Nonce, "observed", "nproc", "2"),
            GuestReport.FormatLine(Nonce, "observed", "nproc", "2"),
            GuestReport.FormatLine(Nonce, "observed", "nproc", "4"),
        }, Nonce);

        Assert.That(report.Checks["cgroup2"].Status, Is.EqualTo(GuestCheckStatus.Fail));
        Assert.That(report.Observed.ContainsKey("nproc"), Is.False);
        Assert.That(report.Problems, Has.Count.EqualTo(3));
    }

    [Test]
    public void A_long_forged_line_is_quoted_in_part_and_without_escape_sequences()
    {
        var report = GuestReport.Parse(new[] { "KILN x \u001b[2J" + new string('a', 10_000) }, Nonce);

        Assert.That(report.Problems.Single().Length, Is.LessThan(300));
        // An ordinal test: a culture-aware Contains ignores control characters and finds ESC in any string.
        Assert.That(report.Problems.Single().Contains('\u001b'), Is.False, "an escape sequence would reach the user's terminal");
    }

    [Test]
    public void Counts_no_line_without_this_runs_nonce()
    {
        var lines = new[]
        {
            "KILN ffffffffffffffff done",
            "[    1.2] KILN " + Nonce + " done",
            "KILN " + Nonce + "x done",
            "kiln " + Nonce + " done",
            "KILN " + Nonce + " test a.sh notanumber 1",
            "KILN " + Nonce + " uname 6.1.192-1",
        };

        var report = GuestReport.Parse(lines, Nonce);

        Assert.That(report.Done, Is.False);
        Assert.That(report.Tests, Is.Empty);
        Assert.That(report.Release, Is.EqualTo("6.1.192-1"));
        Assert.That(report.Problems, Has.Count.EqualTo(5), "each line that is not init's fails the boot");
    }

    [Test]
    public void A_truncated_config_decodes_to_null()
    {
        var config = GzipBase64(new string('x', 5000) + "CONFIG_A=y\n");
        var report = GuestReport.Parse(new[] { GuestReport.FormatLine(Nonce, "config", config[..(config.Length / 2 / 4 * 4)]) }, Nonce);

        Assert.That(report.HasConfig, Is.True);
        Assert.That(report.DecodeConfig(), Is.Null);
    }

    [Test]
    public void Nonces_are_fresh_hex()
    {
        var a = GuestReport.NewNonce();
        Assert.That(a, Does.Match("^[0-9a-f]{16}$"));
        Assert.That(GuestReport.NewNonce(), Is.Not.EqualTo(a));
    }

    [Test]
    public void Reads_the_init_s_device_checks_and_observations_and_ignores_unknown_statuses_and_other_nonces()
    {
        var report = GuestReport.Parse(new[]
        {
            GuestReport.FormatLine(Nonce, "check", "virtio-net", "fail", "step", "tcp:", "no", "answer"),
            GuestReport.FormatLine(Nonce, "check", "9p", "na", "CONFIG_9P_FS", "is", "not", "set"),
            GuestReport.FormatLine(Nonce, "check", "virtio-blk", "passed", "made", "up"),
            GuestReport.FormatLine(Nonce, "observed", "nproc", "2"),
            GuestReport.FormatLine("ffffffffffffffff", "check", "cgroup2", "ok", "forged"),
        }, Nonce);

        Assert.That(report.Checks["virtio-net"], Is.EqualTo(new GuestCheckReport(GuestCheckStatus.Fail, "step tcp: no answer")));
        Assert.That(report.Checks["9p"].Status, Is.EqualTo(GuestCheckStatus.NotApplicable));
        Assert.That(report.Checks.ContainsKey("virtio-blk"), Is.False, "only ok, fail and na are statuses");
        Assert.That(report.Checks.ContainsKey("cgroup2"), Is.False, "another run's nonce");
        Assert.That(report.Observed["nproc"], Is.EqualTo("2"));
    }
}
