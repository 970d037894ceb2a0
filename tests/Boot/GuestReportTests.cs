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
    public void Ignores_lines_without_this_runs_nonce()
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
