using Kiln.Kernel;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

public class QemuRunnerTests
{
    private static QemuSpec Spec(Arch arch, string? extra = null) => new()
    {
        Arch = arch,
        KernelPath = "/k/bzImage",
        InitrdPath = "/k/initramfs.cpio.gz",
        ReportPath = "/out,1/report.log",
        ExtraKernelArgs = extra,
    };

    private static List<string> Args(Arch arch, bool kvm, string? extra = null)
    {
        var runner = new QemuRunner(new RecordingLog(), _ => kvm);
        var spec = Spec(arch, extra);
        return runner.BuildCommand(spec, runner.ChooseAccelerator(spec)).Arguments;
    }

    private static string After(List<string> args, string option) => args[args.IndexOf(option) + 1];

    [Test]
    public void X86_tcg_command_line_boots_the_default_q35_profile_with_2_vcpus_and_2_GiB()
    {
        var args = Args(Arch.X86_64, kvm: false, extra: "loglevel=7 ");

        Assert.That(args.Take(4), Is.EqualTo(new[] { "-M", "q35", "-accel", "tcg" }));
        Assert.That(After(args, "-smp"), Is.EqualTo("2"));
        Assert.That(After(args, "-m"), Is.EqualTo("2G"));
        Assert.That(args, Is.SupersetOf(new[] { "-no-reboot", "-display", "none", "-monitor" }));
        Assert.That(After(args, "-nic"), Is.EqualTo("none"), "no devices prepared: no network either");
        Assert.That(After(args, "-kernel"), Is.EqualTo("/k/bzImage"));
        Assert.That(After(args, "-initrd"), Is.EqualTo("/k/initramfs.cpio.gz"));
        Assert.That(After(args, "-append"), Is.EqualTo("console=ttyS0 panic=-1 loglevel=7"));
        // Console on the first UART, the report file (commas doubled) on the second.
        Assert.That(args.Skip(args.IndexOf("-serial")).Take(6), Is.EqualTo(new[]
            { "-serial", "stdio", "-chardev", "file,id=kilnreport,path=/out,,1/report.log", "-serial", "chardev:kilnreport" }));
    }

    [Test]
    public void Microvm_adds_its_report_uart_by_hand_and_resets_by_triple_fault()
    {
        var runner = new QemuRunner(new RecordingLog(), _ => false);
        var machine = new MachineSetup(MachineProfile.Find(Arch.X86_64, "microvm"), 1, MemorySize.FromMiB(512));
        var args = runner.BuildCommand(Spec(Arch.X86_64, "quiet") with { Machine = machine }, Accelerator.Tcg).Arguments;

        Assert.That(After(args, "-M"), Is.EqualTo("microvm,acpi=off"));
        Assert.That(After(args, "-smp"), Is.EqualTo("1"));
        Assert.That(After(args, "-m"), Is.EqualTo("512M"));
        Assert.That(After(args, "-append"), Is.EqualTo("console=ttyS0 panic=-1 reboot=t acpi=off quiet"));
        Assert.That(args, Does.Contain("isa-serial,chardev=kilnreport,index=1"));
    }

    [Test]
    public void X86_kvm_when_usable()
    {
        Assert.That(After(Args(Arch.X86_64, kvm: true), "-accel"), Is.EqualTo("kvm"));
        Assert.That(QemuRunner.DefaultTimeout(Accelerator.Kvm), Is.EqualTo(TimeSpan.FromSeconds(60)));
        Assert.That(QemuRunner.DefaultTimeout(Accelerator.Tcg), Is.EqualTo(TimeSpan.FromSeconds(120)));
    }

    [Test]
    public void An_explicit_accelerator_wins_over_detection()
    {
        var runner = new QemuRunner(new RecordingLog(), _ => true);
        Assert.That(runner.ChooseAccelerator(Spec(Arch.X86_64) with { Accelerator = Accelerator.Tcg }), Is.EqualTo(Accelerator.Tcg));
    }

    [Test]
    public void Arm64_command_line_uses_virt_pl011_console_and_a_virtio_console_report()
    {
        var runner = new QemuRunner(new RecordingLog(), _ => false);
        var machine = MachineSetup.Default(Arch.Arm64) with { Memory = MemorySize.FromMiB(512) };
        var command = runner.BuildCommand(Spec(Arch.Arm64) with { Machine = machine }, Accelerator.Tcg);
        var args = command.Arguments;

        Assert.That(command.FileName, Is.EqualTo("qemu-system-aarch64"));
        Assert.That(args.Take(6), Is.EqualTo(new[] { "-M", "virt", "-cpu", "max", "-accel", "tcg" }));
        Assert.That(After(args, "-m"), Is.EqualTo("512M"));
        Assert.That(After(args, "-append"), Is.EqualTo("console=ttyAMA0 panic=-1"));
        Assert.That(args, Is.SupersetOf(new[] { "virtio-serial-device", "virtconsole,chardev=kilnreport" }));
        Assert.That(Arch.Arm64.ReportDevice, Is.EqualTo("hvc0"));
    }

    [Test]
    public void Hardware_virtualisation_flags_decide_kvm_on_x86()
    {
        Assert.That(QemuRunner.HasHardwareVirtualisation(new[] { "flags\t\t: fpu vme vmx sse" }), Is.True);
        Assert.That(QemuRunner.HasHardwareVirtualisation(new[] { "flags\t\t: fpu svm" }), Is.True);
        Assert.That(QemuRunner.HasHardwareVirtualisation(new[] { "flags\t\t: fpu hypervisor", "vmx flags\t: ept" }), Is.False);
    }

    [TestCase("x86_64", "qemu-system-x86_64")]
    [TestCase("amd64", "qemu-system-x86_64")]
    [TestCase("aarch64", "qemu-system-aarch64")]
    public void Parses_arch_names(string name, string binary) =>
        Assert.That(Arch.Parse(name).QemuBinary, Is.EqualTo(binary));

    [Test]
    public void Unknown_arch_is_bad_input() =>
        Assert.That(Assert.Throws<KilnException>(() => Arch.Parse("sparc64"))!.ExitCode, Is.EqualTo(ExitCodes.BadInput));

    [Test]
    public void Missing_qemu_is_an_infrastructure_error_naming_the_package()
    {
        var old = Environment.GetEnvironmentVariable("PATH");
        var dir = Directory.CreateTempSubdirectory("kiln-nopath-").FullName;
        try
        {
            Environment.SetEnvironmentVariable("PATH", dir);
            var runner = new QemuRunner(new RecordingLog(), _ => false);
            var e = Assert.ThrowsAsync<KilnException>(() => runner.RunAsync(Spec(Arch.Arm64) with { ReportPath = Path.Combine(dir, "r") }, Path.Combine(dir, "serial.log")));
            Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
            Assert.That(e.Message, Does.Contain("qemu-system-arm"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", old);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void A_qemu_that_lacks_a_device_the_profile_attaches_is_exit_3_naming_the_device_and_its_version()
    {
        var old = Environment.GetEnvironmentVariable("PATH");
        var dir = Directory.CreateTempSubdirectory("kiln-fakeqemu-").FullName;
        try
        {
            // A QEMU built without virtio-9p: it lists its devices and refuses the one it lacks, as the real one does.
            var fake = Path.Combine(dir, "qemu-system-x86_64");
            File.WriteAllText(fake, """
                #!/bin/sh
                case "$*" in
                  --version) echo "QEMU emulator version 6.0.99" ;;
                  "-machine help") printf 'Supported machines are:\nq35                  Standard PC\n' ;;
                  "-device help") printf 'name "virtio-blk-pci", bus PCI\nname "virtio-net-pci", bus PCI\n' ;;
                  *) echo "qemu-system-x86_64: -device virtio-9p-pci: 'virtio-9p-pci' is not a valid device model name" >&2; exit 1 ;;
                esac
                """);
            File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Environment.SetEnvironmentVariable("PATH", dir + ":" + old);
            using var devices = AttachedDevices.Prepare(MachineProfile.Default(Arch.X86_64), Path.Combine(dir, "devices"), new RecordingLog());
            var runner = new QemuRunner(new RecordingLog(), _ => false);
            var e = Assert.ThrowsAsync<KilnException>(() => runner.RunAsync(Spec(Arch.X86_64) with { ReportPath = Path.Combine(dir, "r"), Devices = devices },
                Path.Combine(dir, "serial.log")));
            Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
            Assert.That(e.Message, Does.Contain("(QEMU 6.0.99) has no device virtio-9p-pci").And.Contain("q35 profile"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", old);
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase("[    2.572128] reboot: System halted")]
    [TestCase("reboot: Power down")]
    public void A_guest_that_halts_ends_the_run_at_once_instead_of_at_the_timeout(string haltLine)
    {
        var old = Environment.GetEnvironmentVariable("PATH");
        var dir = Directory.CreateTempSubdirectory("kiln-haltqemu-").FullName;
        try
        {
            // What QEMU does for a microvm guest that ran poweroff -f: the kernel says so, and the machine stays up.
            var fake = Path.Combine(dir, "qemu-system-x86_64");
            File.WriteAllText(fake, $"#!/bin/sh\necho 'kiln: running test off.sh'\necho '{haltLine}'\nexec sleep 1000\n");
            File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Environment.SetEnvironmentVariable("PATH", dir + ":" + old);
            var runner = new QemuRunner(new RecordingLog(), _ => false);

            var result = runner.RunAsync(Spec(Arch.X86_64) with { ReportPath = Path.Combine(dir, "r"), Timeout = TimeSpan.FromSeconds(60) },
                Path.Combine(dir, "serial.log")).GetAwaiter().GetResult();

            Assert.That(result.GuestHalt, Is.EqualTo(haltLine.Trim()));
            Assert.That(result.TimedOut, Is.False);
            Assert.That(result.ExitCode, Is.Null, "QEMU was stopped");
            Assert.That(result.Duration, Is.LessThan(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", old);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void A_console_line_that_only_mentions_a_halt_is_not_one() =>
        Assert.That(QemuRunner.GuestHaltLine().IsMatch("echo reboot: Power down > /dev/null # later"), Is.False);
}
