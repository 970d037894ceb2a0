using System.Globalization;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Boot;

/// <summary>How a profile's virtio devices sit on the machine: PCI functions, virtio-mmio slots, or s390's channel I/O.</summary>
public enum VirtioTransport
{
    Pci,
    Mmio,
    Ccw,
}

/// <summary>What QEMU and the kernel call each transport's devices and drivers.</summary>
public static class VirtioTransports
{
    /// <summary>QEMU's name for device <paramref name="model"/> (virtio-blk) on the transport: virtio-blk-pci, -device, -ccw.</summary>
    public static string Device(this VirtioTransport transport, string model) => model + transport switch
    {
        VirtioTransport.Pci => "-pci",
        VirtioTransport.Mmio => "-device",
        _ => "-ccw",
    };

    /// <summary>The kernel options the transport's driver needs built in (virtio_ccw is built by S390_GUEST).</summary>
    public static IReadOnlyList<string> KernelOptions(this VirtioTransport transport) => transport switch
    {
        VirtioTransport.Pci => ["CONFIG_VIRTIO_PCI"],
        VirtioTransport.Mmio => ["CONFIG_VIRTIO_MMIO"],
        _ => ["CONFIG_S390_GUEST"],
    };
}

/// <summary>How the guest's report device (<see cref="Arch.ReportDevice"/>) is wired to the host file.</summary>
public enum ReportWiring
{
    /// <summary>The machine's second UART (the console keeps the first): <c>-serial chardev:…</c>.</summary>
    SecondSerial,
    /// <summary>An ISA UART added by hand on machines that create only one (microvm): <c>-device isa-serial</c>.</summary>
    IsaSerialDevice,
    /// <summary>A virtio console on <see cref="MachineProfile.ReportTransport"/>: <c>-device virtio-serial-device -device virtconsole</c>.</summary>
    VirtioConsole,
}

/// <summary>
/// A machine BootTest can boot: the QEMU machine and its options, how virtio devices and the report device are
/// attached, and the kernel arguments the machine needs. Every profile attaches every device of
/// <see cref="GuestDevice.All"/> the host can provide; the guest checks each one its kernel has a driver for.
/// A new machine is one entry in <see cref="All"/>.
/// </summary>
public sealed record MachineProfile
{
    public required string Name { get; init; }
    public required Arch Arch { get; init; }
    /// <summary>What --help and the "unknown machine" message say about it.</summary>
    public required string Summary { get; init; }
    /// <summary>The value of QEMU's <c>-M</c> (machine type and its options).</summary>
    public required string Machine { get; init; }
    /// <summary>QEMU arguments the machine needs besides <c>-M</c> (the CPU model).</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
    public required VirtioTransport Transport { get; init; }
    public required ReportWiring Report { get; init; }
    /// <summary>The transport of a <see cref="ReportWiring.VirtioConsole"/> report device: virtio-mmio unless the machine has none.</summary>
    public VirtioTransport ReportTransport { get; init; } = VirtioTransport.Mmio;
    /// <summary>Kernel command-line arguments the machine needs (before the user's --append).</summary>
    public string KernelArguments { get; init; } = "";
    /// <summary>The kernel options the transport needs, so a device check is not applicable without them.</summary>
    public IReadOnlyList<string> TransportOptions => Transport.KernelOptions();

    /// <summary>The kernel options the report device needs besides its tty: none on a UART, the virtio console's otherwise.</summary>
    public IReadOnlyList<string> ReportOptions => Report == ReportWiring.VirtioConsole
        ? ["CONFIG_VIRTIO_CONSOLE", .. ReportTransport.KernelOptions(), "CONFIG_VIRTIO_MENU"]
        : [];

    public const int DefaultSmp = 2;
    public static readonly MemorySize DefaultMemory = MemorySize.FromMiB(2048);

    /// <summary>Every profile; the first of each arch is its default (the one closest to Kata's QEMU guest).</summary>
    public static IReadOnlyList<MachineProfile> All { get; } =
    [
        new()
        {
            Name = "q35", Arch = Arch.X86_64, Machine = "q35", Transport = VirtioTransport.Pci, Report = ReportWiring.SecondSerial,
            Summary = "PCIe machine, as Kata's QEMU guest; virtio over PCI",
        },
        new()
        {
            Name = "pc", Arch = Arch.X86_64, Machine = "pc", Transport = VirtioTransport.Pci, Report = ReportWiring.SecondSerial,
            Summary = "i440FX PC, Kiln's machine before profiles; virtio over PCI",
        },
        new()
        {
            // No ACPI, so QEMU puts the virtio-mmio slots on the kernel command line (virtio_mmio.device=…,
            // needs CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES); without a keyboard controller or ACPI only a triple
            // fault resets the machine, which -no-reboot turns into QEMU exiting; acpi=off spares the
            // kernel its search for tables that are not there (the CPUs are in qboot's MP table). QEMU's virtio-mmio devices are
            // legacy (virtio 0.9) unless told otherwise, and vhost-user-fs needs a virtio 1.0 device: its mount hangs.
            Name = "microvm", Arch = Arch.X86_64, Machine = "microvm,acpi=off", Transport = VirtioTransport.Mmio,
            ExtraArguments = ["-global", "virtio-mmio.force-legacy=false"],
            Report = ReportWiring.IsaSerialDevice, KernelArguments = "reboot=t acpi=off",
            Summary = "minimal Firecracker-like machine without PCI; virtio over MMIO",
        },
        new()
        {
            Name = "virt", Arch = Arch.Arm64, Machine = "virt", ExtraArguments = ["-cpu", "max"], Transport = VirtioTransport.Pci,
            Report = ReportWiring.VirtioConsole,
            Summary = "QEMU's arm64 board; devices on its generic PCI host, the report on virtio-mmio",
        },
        new()
        {
            Name = "s390-ccw-virtio", Arch = Arch.S390x, Machine = "s390-ccw-virtio", Transport = VirtioTransport.Ccw,
            Report = ReportWiring.VirtioConsole, ReportTransport = VirtioTransport.Ccw,
            Summary = "QEMU's s390x machine, as Kata's; virtio over channel I/O (virtio-ccw)",
        },
        new()
        {
            // pseries's default CPU under TCG is POWER9 (QEMU 7.2); the kernel's 64-bit little-endian book3s runs on it.
            Name = "pseries", Arch = Arch.Ppc64le, Machine = "pseries", Transport = VirtioTransport.Pci, Report = ReportWiring.SecondSerial,
            Summary = "QEMU's sPAPR (POWER) machine, as Kata's; virtio over PCI, the report on a second hypervisor terminal",
        },
        new()
        {
            Name = "virt", Arch = Arch.Riscv64, Machine = "virt", Transport = VirtioTransport.Pci, Report = ReportWiring.VirtioConsole,
            Summary = "QEMU's riscv64 board with OpenSBI; devices on its generic PCI host, the report on virtio-mmio",
        },
    ];

    public static MachineProfile Default(Arch arch) => All.First(p => p.Arch == arch);

    public static IEnumerable<MachineProfile> For(Arch arch) => All.Where(p => p.Arch == arch);

    /// <summary>The profile named <paramref name="name"/> for <paramref name="arch"/>; exit 2 listing that arch's profiles.</summary>
    public static MachineProfile Find(Arch arch, string name) =>
        For(arch).FirstOrDefault(p => p.Name.Equals(name.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw KilnException.BadInput($"--machine={name}: no such machine profile for {arch.Name}. Profiles for {arch.Name}: " +
                                        string.Join(", ", For(arch).Select(p => $"{p.Name} ({p.Summary})")) + ".");

    /// <summary>The QEMU device name of <paramref name="device"/> on this profile's transport.</summary>
    public string QemuDevice(GuestDevice device) => Transport.Device(device.QemuModel);

    /// <summary>The QEMU devices <see cref="ReportDeviceArguments"/> uses.</summary>
    public IReadOnlyList<string> ReportQemuDevices => Report switch
    {
        ReportWiring.SecondSerial => [],
        ReportWiring.IsaSerialDevice => ["isa-serial"],
        _ => [ReportTransport.Device("virtio-serial"), "virtconsole"],
    };

    /// <summary>QEMU arguments that wire the guest's report device to a host file.</summary>
    public IReadOnlyList<string> ReportDeviceArguments(string hostPath)
    {
        // Commas are option separators in -chardev; QEMU escapes them by doubling.
        var chardev = $"file,id=kilnreport,path={QemuRunner.EscapeOption(hostPath)}";
        return Report switch
        {
            ReportWiring.SecondSerial => ["-chardev", chardev, "-serial", "chardev:kilnreport"],
            ReportWiring.IsaSerialDevice => ["-chardev", chardev, "-device", "isa-serial,chardev=kilnreport,index=1"],
            _ => ["-chardev", chardev, "-device", ReportTransport.Device("virtio-serial"), "-device", "virtconsole,chardev=kilnreport"],
        };
    }

    public override string ToString() => Name;
}

/// <summary>Guest memory for QEMU's <c>-m</c>, in MiB; written and parsed with a unit (512M, 2G).</summary>
public readonly partial record struct MemorySize(long MiB)
{
    public static MemorySize FromMiB(long mib) => new(mib);

    [GeneratedRegex(@"^(\d+)\s*(M|MB|MiB|G|GB|GiB|T|TB|TiB)$", RegexOptions.IgnoreCase)]
    private static partial Regex WithUnit();

    /// <summary>Parses a size with a unit (M, G or T; binary units); exit 2 naming <paramref name="option"/> otherwise.</summary>
    public static MemorySize Parse(string option, string text)
    {
        var m = WithUnit().Match(text.Trim());
        if (!m.Success || !long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number <= 0)
            throw KilnException.BadInput($"--{option}={text}: give a positive size with a unit, e.g. 512M or 2G (M, G and T are MiB, GiB and TiB).");
        var factor = char.ToUpperInvariant(m.Groups[2].Value[0]) switch { 'M' => 1L, 'G' => 1024L, _ => 1024L * 1024 };
        return new MemorySize(checked(number * factor));
    }

    /// <summary>What QEMU's -m takes, and what --memory accepts back (a bisect step re-parses it).</summary>
    public override string ToString() => MiB % 1024 == 0 ? $"{MiB / 1024}G" : $"{MiB}M";
}

/// <summary>The machine one boot runs on: the profile, its vCPUs and its memory.</summary>
public sealed record MachineSetup(MachineProfile Profile, int Smp, MemorySize Memory)
{
    private const string MemInfo = "/proc/meminfo";

    public static MachineSetup Default(Arch arch) => new(MachineProfile.Default(arch), MachineProfile.DefaultSmp, MachineProfile.DefaultMemory);

    /// <summary>Exit 2 when the guest would get more memory than this host has (QEMU would start and the host swap or kill it).</summary>
    public void RequireHostMemory()
    {
        var total = File.Exists(MemInfo)
            ? File.ReadLines(MemInfo).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 2 && f[0] == "MemTotal:").Select(f => long.Parse(f[1], CultureInfo.InvariantCulture) / 1024).FirstOrDefault()
            : 0;
        if (total > 0 && Memory.MiB > total)
            throw KilnException.BadInput($"--memory={Memory}: this host has only {total} MiB of RAM; give the guest less (the default is {MachineProfile.DefaultMemory}).");
    }

    public override string ToString() => $"{Profile.Name}, {Smp} vCPU{(Smp == 1 ? "" : "s")}, {Memory}";
}
