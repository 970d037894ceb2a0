using System.Text.Json;
using System.Xml.Linq;
using Kiln.Kernel;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

/// <summary>
/// Real boots of the shared test kernel on each x86_64 machine profile with its devices attached: every device the
/// kernel has a driver for must pass its check in the guest, the rest must say why they did not run.
/// </summary>
[Category("Integration")]
[NonParallelizable]
public class MachineBootTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kiln-machine-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Passed)
            Directory.Delete(_dir, recursive: true);
        else
            TestContext.Out.WriteLine($"Boot artifacts kept in {_dir}");
    }

    private BootTestResult Boot(MachineSetup? machine = null, params string[] qemuArguments)
    {
        var kernel = Kiln.Tests.Integration.TestKernel.BzImage;
        var result = new BootTester(new RecordingLog()).Run(new BootTestSpec
        {
            KernelPath = kernel,
            OutputDirectory = Path.Combine(_dir, "out"),
            ExpectedRelease = Kiln.Tests.Integration.KilnRun.Key61,
            ConfigOptions = ["CONFIG_VIRTIO_BLK=y", "CONFIG_VIRTIO_CONSOLE=y", "CONFIG_VIRTIO_VSOCKETS=y"],
            Machine = machine,
            ExtraQemuArguments = qemuArguments,
        });
        TestContext.Out.WriteLine($"{result.Machine}: {result.Qemu.Duration.TotalSeconds:F1} s");
        foreach (var c in result.Checks) TestContext.Out.WriteLine($"{BootResultWriter.StatusName(c.Status)} {c.Name}: {c.Message}");
        return result;
    }

    private static BootCheck Check(BootTestResult result, string name) => result.Checks.Single(c => c.Name == name);

    private static bool HostHasVirtiofs => VirtiofsdAvailable() && Environment.IsPrivilegedProcess;

    private static bool VirtiofsdAvailable() =>
        new[] { "/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd" }.Any(File.Exists) ||
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "virtiofsd")));

    [Test]
    public void The_default_q35_machine_attaches_and_exercises_every_device()
    {
        var result = Boot();

        Assert.That(result.Passed, Is.True, string.Join("\n", result.Failures.Select(f => $"{f.Name}: {f.Message}")));
        Assert.That(result.Machine.ToString(), Is.EqualTo("q35, 2 vCPUs, 2G"));
        Assert.That(result.Qemu.CommandLine, Does.Contain("-M q35").And.Contain("-smp 2").And.Contain("-m 2G"));
        foreach (var name in new[] { "smp", "memory", "virtio-blk", "virtio-net", "9p", "cgroup2", "namespaces" })
            Assert.That(Check(result, name).Status, Is.EqualTo(CheckStatus.Pass), name);
        Assert.That(Check(result, "virtio-net").Message, Does.Contain("nonce exchanged over TCP"));
        Assert.That(Check(result, "virtio-fs").Status, Is.EqualTo(HostHasVirtiofs ? CheckStatus.Pass : CheckStatus.Skipped));
        var vsock = Check(result, "vsock");
        Assert.That(vsock.Status, Is.EqualTo(CheckStatus.Skipped));
        Assert.That(vsock.Message, Does.Contain("vhost-vsock"));
        Assert.That(result.NotExercised, Is.EqualTo(new[] { "CONFIG_VIRTIO_CONSOLE", "CONFIG_VIRTIO_VSOCKETS" }),
            "x86 reports over a UART, and vsock is not exercised");

        using var json = JsonDocument.Parse(File.ReadAllText(result.ResultsJsonPath));
        var root = json.RootElement;
        Assert.That((root.GetProperty("machine").GetString(), root.GetProperty("smp").GetInt32(), root.GetProperty("memoryMiB").GetInt64()),
            Is.EqualTo(("q35", 2, 2048L)));
        Assert.That(root.GetProperty("compiledNotExercised").EnumerateArray().Select(e => e.GetString()), Does.Contain("CONFIG_VIRTIO_VSOCKETS"));
        var junit = XDocument.Load(result.JUnitPath);
        var properties = junit.Descendants("property").ToDictionary(p => (string)p.Attribute("name")!, p => (string)p.Attribute("value")!);
        Assert.That((properties["machine"], properties["smp"], properties["memory_mib"]), Is.EqualTo(("q35", "2", "2048")));
        Assert.That(junit.Descendants("testcase").Single(t => (string)t.Attribute("name")! == "vsock").Element("skipped"), Is.Not.Null);
    }

    [Test]
    public void The_pc_machine_with_one_vcpu_and_256M_still_boots_and_checks_its_devices()
    {
        var result = Boot(new MachineSetup(MachineProfile.Find(Arch.X86_64, "pc"), 1, MemorySize.FromMiB(256)));

        Assert.That(result.Passed, Is.True, string.Join("\n", result.Failures.Select(f => $"{f.Name}: {f.Message}")));
        Assert.That(Check(result, "smp").Status, Is.EqualTo(CheckStatus.Pass));
        Assert.That(Check(result, "memory").Status, Is.EqualTo(CheckStatus.Pass));
        Assert.That(Check(result, "virtio-net").Status, Is.EqualTo(CheckStatus.Pass));
    }

    [Test]
    public void Microvm_boots_with_its_devices_on_virtio_mmio()
    {
        var result = Boot(new MachineSetup(MachineProfile.Find(Arch.X86_64, "microvm"), 2, MemorySize.FromMiB(1024)));

        Assert.That(result.Passed, Is.True, string.Join("\n", result.Failures.Select(f => $"{f.Name}: {f.Message}")));
        Assert.That(result.Qemu.CommandLine, Does.Contain("-M microvm,acpi=off").And.Contain("virtio-blk-device"));
        Assert.That(Check(result, "guest-report").Passed, Is.True, "the report UART microvm gets by hand works");
        // Kiln's x86_64 fragments enable CONFIG_VIRTIO_MMIO and its command-line devices for this machine.
        foreach (var name in new[] { "smp", "virtio-blk", "virtio-net", "9p" })
            Assert.That(Check(result, name).Status, Is.EqualTo(CheckStatus.Pass), name);
    }

    [Test]
    public void A_net_device_its_driver_refuses_fails_the_net_check_naming_the_step()
    {
        // virtio_net refuses a device that offers RX filtering without a control queue ("probe of virtio0 failed
        // with error -22"): the device is attached, its driver never binds. (initcall_blacklist= needs CONFIG_KALLSYMS,
        // which the test kernel does not have.)
        var result = Boot(null, "-global", "virtio-net-pci.ctrl_vq=off");

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Failures.Select(f => f.Name), Is.EqualTo(new[] { "virtio-net" }));
        Assert.That(Check(result, "virtio-net").Message, Does.StartWith("step interface: no network interface is bound to the virtio_net driver"));
        Assert.That(Check(result, "virtio-blk").Passed, Is.True, "the other devices still work");
    }
}
