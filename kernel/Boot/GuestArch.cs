using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Boot;

public enum GuestArch
{
    X86_64,
    Arm64,
}

/// <summary>What booting a guest of one architecture needs from QEMU and the initramfs.</summary>
public sealed record ArchProfile(
    GuestArch Arch,
    string Name,
    string QemuBinary,
    string QemuDebianPackage,
    IReadOnlyList<string> MachineArguments,
    string ConsoleDevice,
    string ReportDevice,
    uint ReportDeviceMajor,
    uint ReportDeviceMinor,
    ushort ElfMachine)
{
    /// <summary>
    /// x86_64: the PC's second 8250 UART (ttyS1, char 4:65) carries the report; the console stays on ttyS0.
    /// </summary>
    public static readonly ArchProfile X86_64 = new(
        GuestArch.X86_64, "x86_64", "qemu-system-x86_64", "qemu-system-x86",
        new[] { "-M", "pc" }, "ttyS0", "ttyS1", 4, 65, ElfMachine: 62);

    /// <summary>
    /// arm64: QEMU's virt board has a single non-secure PL011 (ttyAMA0), so the report goes over a
    /// virtio console on virtio-mmio instead (guest /dev/hvc0, char 229:0; needs CONFIG_VIRTIO_MMIO
    /// and CONFIG_VIRTIO_CONSOLE).
    /// </summary>
    public static readonly ArchProfile Arm64 = new(
        GuestArch.Arm64, "arm64", "qemu-system-aarch64", "qemu-system-arm",
        new[] { "-M", "virt", "-cpu", "max" }, "ttyAMA0", "hvc0", 229, 0, ElfMachine: 183);

    public static ArchProfile For(GuestArch arch) => arch switch
    {
        GuestArch.X86_64 => X86_64,
        GuestArch.Arm64 => Arm64,
        _ => throw new ArgumentOutOfRangeException(nameof(arch), arch, null),
    };

    /// <summary>Accepts the spellings users type: x86_64/amd64/x86 and arm64/aarch64.</summary>
    public static ArchProfile Parse(string arch) => arch.Trim().ToLowerInvariant() switch
    {
        "x86_64" or "x86-64" or "amd64" or "x86" => X86_64,
        "arm64" or "aarch64" => Arm64,
        _ => throw KilnException.BadInput($"Unknown architecture '{arch}': use x86_64 or arm64."),
    };

    /// <summary>QEMU arguments that wire the guest's report device to a host file.</summary>
    public IReadOnlyList<string> ReportDeviceArguments(string hostPath)
    {
        // Commas are option separators in -chardev; QEMU escapes them by doubling.
        var chardev = $"file,id=kilnreport,path={hostPath.Replace(",", ",,")}";
        return Arch switch
        {
            GuestArch.X86_64 => new[] { "-chardev", chardev, "-serial", "chardev:kilnreport" },
            _ => new[] { "-chardev", chardev, "-device", "virtio-serial-device", "-device", "virtconsole,chardev=kilnreport" },
        };
    }
}
