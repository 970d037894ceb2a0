using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

public class BootLogAnalyzerTests
{
    [Test]
    public void A_clean_log_has_no_errors_and_a_time_to_init()
    {
        var analysis = BootLogAnalyzer.Analyze(new[]
        {
            "SeaBIOS (version 1.16.2)",
            "[    0.000000] Linux version 6.1.192-1 (kiln@kiln) #1",
            "[    0.912345] Freeing unused kernel image (initmem) memory: 1000K",
            "[    0.987654] Run /init as init process\r",
            "kiln: running test a.sh",
            "[    1.100000] reboot: Restarting system",
        });

        Assert.That(analysis.Errors, Is.Empty);
        Assert.That(analysis.SecondsToInit, Is.EqualTo(0.987654));
        Assert.That(analysis.LastTimestamp, Is.EqualTo(1.1));
    }

    [Test]
    public void Reports_each_error_kind_first_one_first_with_line_numbers()
    {
        var analysis = BootLogAnalyzer.Analyze(new[]
        {
            "[    0.1] ok",
            "[    0.2] WARNING: CPU: 0 PID: 1 at kernel/foo.c:12 foo+0x1/0x2",
            "[    0.3] Call Trace:",
            "[    0.4] BUG: kernel NULL pointer dereference, address: 0000000000000000",
            "[    0.5] Oops: 0000 [#1] PREEMPT SMP",
            "[    0.6] Kernel panic - not syncing: Fatal exception",
        });

        Assert.That(analysis.Errors.Select(e => (e.Kind, e.LineNumber)),
            Is.EqualTo(new[] { ("warning", 2), ("call-trace", 3), ("bug", 4), ("oops", 5), ("panic", 6) }));
        Assert.That(analysis.FirstError!.Line, Does.Contain("kernel/foo.c"));
        Assert.That(analysis.SecondsToInit, Is.Null);
    }

    [Test]
    public void Words_that_merely_contain_the_signatures_are_not_errors()
    {
        var analysis = BootLogAnalyzer.Analyze(new[] { "[ 0.1] DEBUG: fine", "[ 0.2] Whoops happen", "[ 0.3] NOWARNING:" });
        Assert.That(analysis.Errors, Is.Empty);
    }
}

public class ConfigOptionCheckTests
{
    private const string Config = "CONFIG_PRINTK=y\nCONFIG_VIRTIO=m\n# CONFIG_MODULES is not set\nCONFIG_LOCALVERSION=\"-1\"\n";

    [TestCase("CONFIG_PRINTK=y")]
    [TestCase("CONFIG_VIRTIO=m")]
    [TestCase("CONFIG_MODULES=n")]
    [TestCase("# CONFIG_MODULES is not set")]
    [TestCase("# CONFIG_NEVER_HEARD_OF is not set")]
    [TestCase("CONFIG_LOCALVERSION=\"-1\"")]
    public void Met(string line) =>
        Assert.That(ConfigOptionCheck.Mismatches(Config, new[] { ConfigRequirement.Parse(line) }), Is.Empty);

    [TestCase("CONFIG_VIRTIO=y", "CONFIG_VIRTIO=y requested, kernel has CONFIG_VIRTIO=m")]
    [TestCase("CONFIG_MODULES=y", "CONFIG_MODULES=y requested, kernel has it not set")]
    [TestCase("CONFIG_PRINTK=n", "# CONFIG_PRINTK is not set requested, kernel has CONFIG_PRINTK=y")]
    public void Not_met(string line, string message) =>
        Assert.That(ConfigOptionCheck.Mismatches(Config, new[] { ConfigRequirement.Parse(line) }), Is.EqualTo(new[] { message }));

    [TestCase("PRINTK=y")]
    [TestCase("CONFIG_PRINTK")]
    public void Rejects_unreadable_requests(string line) =>
        Assert.That(Assert.Throws<KilnException>(() => ConfigRequirement.Parse(line))!.ExitCode, Is.EqualTo(ExitCodes.BadInput));

    [Test]
    public void Guest_output_with_other_scripts_digits_or_control_characters_is_read_without_throwing()
    {
        var analysis = BootLogAnalyzer.Analyze(new[]
        {
            "[    0.5] Run /init as init process",
            "[\u0661.\u0665] stamp",
            "BUG: \u0001\u0002 oops \uFFFD",
            "[99999999999999999999999999999999999999999999.0] huge",
        });

        Assert.That(analysis.SecondsToInit, Is.EqualTo(0.5));
        Assert.That(analysis.Errors.Single().Kind, Is.EqualTo("bug"));
        Assert.That(analysis.LastTimestamp, Is.GreaterThan(1e40), "ASCII digits are a timestamp however large");
    }
}
