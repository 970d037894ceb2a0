using System.Text.Json;
using System.Xml.Linq;
using Kiln.Kernel;
using Kiln.Kernel.Boot;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

public class BootResultWriterTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kiln-results-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private BootTestResult Result(params BootCheck[] checks) => new()
    {
        Spec = new BootTestSpec { KernelPath = "/k/bzImage", OutputDirectory = _dir, ExpectedRelease = "6.1.192-1" },
        Checks = checks,
        Machine = MachineSetup.Default(Arch.X86_64),
        Qemu = new QemuRunResult("qemu-system-x86_64 -M pc", Accelerator.Tcg, TimeSpan.FromSeconds(120), false, 0,
            TimeSpan.FromSeconds(1.9), Path.Combine(_dir, "serial.log"), Array.Empty<string>()),
        Log = new BootLogAnalysis(Array.Empty<KernelError>(), 0.98, 1.1),
        Nonce = "n",
        Release = "6.1.192-1",
        SerialLogPath = Path.Combine(_dir, "serial.log"),
        ReportPath = Path.Combine(_dir, "report.log"),
        ResultsJsonPath = Path.Combine(_dir, "results.json"),
        JUnitPath = Path.Combine(_dir, "junit.xml"),
    };

    [Test]
    public void Kunit_cases_are_junit_test_cases_of_their_suite()
    {
        var result = Result([.. new Kiln.Kernel.KUnit.KUnitRequest(null).Judge(Kiln.Kernel.KUnit.Ktap.Parse(Kiln.Tests.KUnit.KtapTests.Console61))]);
        BootResultWriter.WriteJUnit(result, result.JUnitPath);

        var xml = XDocument.Load(result.JUnitPath);
        var failing = xml.Descendants("testcase").Single(t => (string?)t.Attribute("name") == "kiln_fixture_fails");
        Assert.That((string?)failing.Attribute("classname"), Is.EqualTo("kunit.kiln_fixture"));
        Assert.That(failing.Element("failure"), Is.Not.Null);
        var skipped = xml.Descendants("testcase").Single(t => (string?)t.Attribute("name") == "example_skip_test");
        Assert.That(skipped.Element("skipped"), Is.Not.Null);
        var summary = xml.Descendants("testcase").Single(t => (string?)t.Attribute("name") == "kunit");
        Assert.That((string?)summary.Attribute("classname"), Is.EqualTo("kiln.boot.x86_64"));
    }

    [Test]
    public void JUnit_has_one_testcase_per_check_and_a_failure_element_for_failures()
    {
        var result = Result(
            new BootCheck("uname", true, "release 6.1.192-1", TimeSpan.Zero),
            new BootCheck("no-kernel-errors", false, "panic at serial.log:3: Kernel panic", TimeSpan.Zero, "serial.log:3: Kernel \u001b[0mpanic\0"),
            new BootCheck("test:a.sh", true, "exit code 0", TimeSpan.FromSeconds(0.25)));

        BootResultWriter.WriteJUnit(result, result.JUnitPath);

        var suite = XDocument.Load(result.JUnitPath).Root!.Element("testsuite")!;
        Assert.That((string?)suite.Attribute("tests"), Is.EqualTo("3"));
        Assert.That((string?)suite.Attribute("failures"), Is.EqualTo("1"));
        var cases = suite.Elements("testcase").ToList();
        Assert.That(cases.Select(c => (string?)c.Attribute("name")), Is.EqualTo(new[] { "uname", "no-kernel-errors", "test:a.sh" }));
        Assert.That(cases.Select(c => (string?)c.Attribute("classname")).Distinct(), Is.EqualTo(new[] { "kiln.boot.x86_64" }));
        Assert.That((string?)cases[2].Attribute("time"), Is.EqualTo("0.250"));
        var failure = cases[1].Element("failure")!;
        Assert.That((string?)failure.Attribute("message"), Does.StartWith("panic at serial.log:3"));
        Assert.That(failure.Value, Is.EqualTo("serial.log:3: Kernel [0mpanic"), "control characters are dropped");
        Assert.That(cases[0].Element("failure"), Is.Null);
    }

    [Test]
    public void Skipped_and_not_applicable_checks_are_junit_skips_and_do_not_fail_the_boot()
    {
        var result = Result(
            new BootCheck("virtio-net", CheckStatus.NotApplicable, "CONFIG_VIRTIO_NET is not set", TimeSpan.Zero),
            new BootCheck("vsock", CheckStatus.Skipped, "this host has no /dev/vhost-vsock", TimeSpan.Zero),
            new BootCheck("virtio-blk", CheckStatus.Pass, "read the token", TimeSpan.Zero)) with { NotExercised = ["CONFIG_VIRTIO_VSOCKETS"] };

        BootResultWriter.WriteJUnit(result, result.JUnitPath);
        BootResultWriter.WriteJson(result, result.ResultsJsonPath);

        Assert.That(result.Passed, Is.True);
        var suite = XDocument.Load(result.JUnitPath).Root!.Element("testsuite")!;
        Assert.That(((string?)suite.Attribute("failures"), (string?)suite.Attribute("skipped")), Is.EqualTo(("0", "2")));
        Assert.That(suite.Elements("testcase").Select(c => (string?)c.Element("skipped")?.Attribute("message")),
            Is.EqualTo(new[] { "not applicable: CONFIG_VIRTIO_NET is not set", "skipped: this host has no /dev/vhost-vsock", null }));
        var properties = suite.Element("properties")!.Elements().ToDictionary(p => (string)p.Attribute("name")!, p => (string)p.Attribute("value")!);
        Assert.That((properties["machine"], properties["smp"], properties["memory_mib"], properties["compiled_not_exercised"]),
            Is.EqualTo(("q35", "2", "2048", "CONFIG_VIRTIO_VSOCKETS")));
        using var json = JsonDocument.Parse(File.ReadAllText(result.ResultsJsonPath));
        Assert.That(json.RootElement.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("status").GetString()),
            Is.EqualTo(new[] { "not applicable", "skipped", "pass" }));
    }

    [Test]
    public void Json_carries_the_verdict_and_every_check()
    {
        var result = Result(new BootCheck("qemu-exit", false, "timed out after 15.0 s", TimeSpan.FromSeconds(15), "tail"));

        BootResultWriter.WriteJson(result, result.ResultsJsonPath);

        using var json = JsonDocument.Parse(File.ReadAllText(result.ResultsJsonPath));
        var root = json.RootElement;
        Assert.That(root.GetProperty("passed").GetBoolean(), Is.False);
        Assert.That(root.GetProperty("exitCode").GetInt32(), Is.EqualTo(1));
        Assert.That(root.GetProperty("release").GetString(), Is.EqualTo("6.1.192-1"));
        Assert.That(root.GetProperty("secondsToInit").GetDouble(), Is.EqualTo(0.98));
        var check = root.GetProperty("checks")[0];
        Assert.That(check.GetProperty("name").GetString(), Is.EqualTo("qemu-exit"));
        Assert.That(check.GetProperty("durationSeconds").GetDouble(), Is.EqualTo(15));
        Assert.That(check.GetProperty("details").GetString(), Is.EqualTo("tail"));
        Assert.That(Directory.GetFiles(Path.GetDirectoryName(result.ResultsJsonPath)!, ".*"), Is.Empty, "no temporary file left behind");
    }

    [Test]
    public void Guest_output_that_xml_and_json_cannot_hold_is_dropped_from_both_and_no_temporary_file_is_left()
    {
        const string hostile = "BUG: \u0001\u0002 oops \uD800 lone \uFFFE \u0085 tab\tnewline\n emoji \U0001F600";
        var result = Result(
            new BootCheck("no-kernel-errors", false, hostile, TimeSpan.Zero, hostile),
            new BootCheck("test:x\u0001", CheckStatus.Skipped, hostile, TimeSpan.Zero)) with
        {
            Release = "6.1.192\u0007",
            Log = new BootLogAnalysis([new KernelError("bug", 3, hostile)], null, null),
        };

        BootResultWriter.WriteJUnit(result, result.JUnitPath);
        BootResultWriter.WriteJson(result, result.ResultsJsonPath);

        const string printable = "BUG:  oops  lone   tab\tnewline\n emoji \U0001F600";
        var failure = XDocument.Load(result.JUnitPath).Descendants("failure").Single();
        Assert.That(failure.Value, Is.EqualTo(printable));
        using var json = JsonDocument.Parse(File.ReadAllText(result.ResultsJsonPath));
        Assert.That(json.RootElement.GetProperty("checks")[0].GetProperty("message").GetString(), Is.EqualTo(printable));
        Assert.That(json.RootElement.GetProperty("firstKernelError").GetProperty("line").GetString(), Is.EqualTo(printable));
        Assert.That(json.RootElement.GetProperty("release").GetString(), Is.EqualTo("6.1.192"));
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "junit.xml", "results.json" }));
    }
}
