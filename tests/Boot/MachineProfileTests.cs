using Kiln.Kernel;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

public class MachineProfileTests
{
    [Test]
    public void Each_arch_has_a_default_and_every_profile_names_its_transport_options()
    {
        Assert.That(MachineProfile.Default(Arch.X86_64).Name, Is.EqualTo("q35"));
        Assert.That(MachineProfile.Default(Arch.Arm64).Name, Is.EqualTo("virt"));
        Assert.That(MachineProfile.For(Arch.X86_64).Select(p => p.Name), Is.EqualTo(new[] { "q35", "pc", "microvm" }));
        Assert.That(MachineProfile.Find(Arch.X86_64, "microvm").TransportOptions, Is.EqualTo(new[] { "CONFIG_VIRTIO_MMIO" }));
        Assert.That(MachineProfile.Find(Arch.X86_64, "Q35").QemuDevice(GuestDevice.Net), Is.EqualTo("virtio-net-pci"));
        Assert.That(MachineProfile.Find(Arch.X86_64, "microvm").QemuDevice(GuestDevice.Blk), Is.EqualTo("virtio-blk-device"));
        foreach (var arch in Arch.All) Assert.That(MachineProfile.For(arch), Is.Not.Empty, arch.Name);
    }

    [Test]
    public void The_new_arches_use_their_own_transports_and_report_channels()
    {
        var s390 = MachineProfile.Default(Arch.S390x);
        Assert.That((s390.Name, s390.QemuDevice(GuestDevice.NineP)), Is.EqualTo(("s390-ccw-virtio", "virtio-9p-ccw")));
        Assert.That(s390.TransportOptions, Is.EqualTo(new[] { "CONFIG_S390_GUEST" }));
        Assert.That(s390.ReportDeviceArguments("/r"), Does.Contain("virtio-serial-ccw"));
        Assert.That(s390.ReportOptions, Does.Contain("CONFIG_VIRTIO_CONSOLE").And.Contain("CONFIG_S390_GUEST"));

        var pseries = MachineProfile.Default(Arch.Ppc64le);
        Assert.That(pseries.Name, Is.EqualTo("pseries"));
        // The second -serial is the second sPAPR terminal, hvc1; the console keeps hvc0.
        Assert.That(pseries.ReportDeviceArguments("/r"), Is.EqualTo(new[] { "-chardev", "file,id=kilnreport,path=/r", "-serial", "chardev:kilnreport" }));
        Assert.That((Arch.Ppc64le.ConsoleDevice, Arch.Ppc64le.ReportDevice), Is.EqualTo(("hvc0", "hvc1")));
        Assert.That(pseries.ReportOptions, Is.Empty);

        var riscv = MachineProfile.Default(Arch.Riscv64);
        Assert.That((riscv.Name, riscv.QemuDevice(GuestDevice.Blk)), Is.EqualTo(("virt", "virtio-blk-pci")));
        Assert.That(riscv.ReportDeviceArguments("/r"), Does.Contain("virtio-serial-device"));
    }

    [Test]
    public void An_unknown_machine_lists_the_profiles_of_that_arch()
    {
        var e = Assert.Throws<KilnException>(() => MachineProfile.Find(Arch.Arm64, "q35"))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("Profiles for arm64: virt"));
        Assert.That(e.Message, Does.Not.Contain("microvm"));
    }

    [Test]
    public void Report_device_wiring_follows_the_profile()
    {
        Assert.That(MachineProfile.Find(Arch.X86_64, "pc").ReportDeviceArguments("/r,1"),
            Is.EqualTo(new[] { "-chardev", "file,id=kilnreport,path=/r,,1", "-serial", "chardev:kilnreport" }));
        Assert.That(MachineProfile.Find(Arch.X86_64, "microvm").ReportDeviceArguments("/r"), Does.Contain("isa-serial,chardev=kilnreport,index=1"));
        Assert.That(MachineProfile.Default(Arch.Arm64).ReportDeviceArguments("/r"), Does.Contain("virtconsole,chardev=kilnreport"));
    }

    [TestCase("512M", 512)]
    [TestCase("2G", 2048)]
    [TestCase("2GiB", 2048)]
    [TestCase("1t", 1024 * 1024)]
    public void Memory_sizes_need_a_unit(string text, long mib)
    {
        var size = MemorySize.Parse("memory", text);
        Assert.That(size.MiB, Is.EqualTo(mib));
        Assert.That(MemorySize.Parse("memory", size.ToString()), Is.EqualTo(size), "ToString parses back");
    }

    [Test]
    public void A_qemu_without_a_device_the_profile_attaches_is_exit_3_naming_device_and_version()
    {
        var capabilities = QemuCapabilities.Parse("qemu-system-x86_64", "QEMU emulator version 7.2.22 (Debian)\n",
            "Supported machines are:\nmicrovm              microvm (i386)\nq35                  Standard PC (Q35 + ICH9, 2009)\n",
            "name \"virtio-blk-pci\", bus PCI\nname \"virtio-net-pci\", bus PCI, alias \"virtio-net\"\n");
        Assert.That(capabilities.Version, Is.EqualTo("7.2.22"));
        var q35 = MachineProfile.Default(Arch.X86_64);
        Assert.DoesNotThrow(() => capabilities.Require(q35, ["virtio-blk-pci", "virtio-net-pci"]));

        var e = Assert.Throws<KilnException>(() => capabilities.Require(q35, ["virtio-blk-pci", "virtio-9p-pci"]))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("QEMU 7.2.22").And.Contain("no device virtio-9p-pci").And.Contain("q35 profile"));

        var noPc = Assert.Throws<KilnException>(() => capabilities.Require(MachineProfile.Find(Arch.X86_64, "pc"), []))!;
        Assert.That(noPc.Message, Does.Contain("no machine 'pc'"));
    }

    [Test]
    public void The_real_qemu_has_every_device_the_profiles_attach()
    {
        foreach (var arch in Arch.All)
        {
            Prerequisite.Require(OnPath(arch.QemuBinary), $"{arch.QemuBinary} is not installed ({arch.QemuDebianPackage})");
            var capabilities = QemuCapabilities.Of(arch.QemuBinary, new RecordingLog());
            foreach (var profile in MachineProfile.For(arch))
                Assert.DoesNotThrow(() => capabilities.Require(profile,
                    profile.ReportQemuDevices.Concat(GuestDevice.All.Where(d => d != GuestDevice.Vsock).Select(profile.QemuDevice))), profile.Name);
        }
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, program)));
}
