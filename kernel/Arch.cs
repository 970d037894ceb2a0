using System.Runtime.InteropServices;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel;

/// <summary>
/// A guest architecture and every name the tools want for it: kbuild's <c>ARCH=</c> and <c>SRCARCH</c>, the
/// cross-compiler prefix, the image make builds, QEMU's binary, Debian's architecture (busybox,
/// packages), the OCI platform and the appc (ACI) arch label. A new arch is one entry here, its machine profile
/// (<see cref="Boot.MachineProfile"/>) and its <c>configs/fragments/&lt;Kata's name&gt;/</c>; nothing else switches on an arch name.
/// </summary>
public sealed record Arch
{
    /// <summary>Kiln's name: what --arch takes, the fragments directory, the cache identity and metadata say.</summary>
    public required string Name { get; init; }
    /// <summary>Other spellings --arch accepts (amd64, aarch64, and Kata's s390, powerpc, riscv).</summary>
    public required IReadOnlyList<string> Aliases { get; init; }
    /// <summary>
    /// Kata's name (build-kernel.sh's arch_to_kernel): the fragments directory under <c>configs/fragments/</c> and the
    /// <c>!tag</c> a common fragment carries to leave this arch out.
    /// </summary>
    public required string KataName { get; init; }
    /// <summary>The Kconfig symbol only this arch's configs set (X86, ARM64, S390, PPC64, RISCV), to tell a .config's arch.</summary>
    public required string KconfigSymbol { get; init; }
    /// <summary>make's <c>ARCH=</c>.</summary>
    public required string MakeArch { get; init; }
    /// <summary>kbuild's <c>SRCARCH</c>: the directory under <c>arch/</c> Kconfig sources.</summary>
    public required string SrcArch { get; init; }
    /// <summary>The host architecture that builds and runs this arch natively (no cross-compiler, KVM possible).</summary>
    public required Architecture HostEquivalent { get; init; }
    /// <summary>The GNU cross prefix (<c>aarch64-linux-gnu-</c>) and the Debian package with its gcc.</summary>
    public required string CrossPrefix { get; init; }
    public required string CrossCompilerPackage { get; init; }
    /// <summary>The compressed image make builds, relative to the build directory.</summary>
    public required string ImagePath { get; init; }
    public required string QemuBinary { get; init; }
    public required string QemuDebianPackage { get; init; }
    public required string ConsoleDevice { get; init; }
    /// <summary>
    /// The guest device the init script writes its report to, and its character device numbers; how QEMU wires it
    /// to the host is the machine profile's (<see cref="Boot.MachineProfile.Report"/>).
    /// </summary>
    public required string ReportDevice { get; init; }
    public required uint ReportDeviceMajor { get; init; }
    public required uint ReportDeviceMinor { get; init; }
    /// <summary>e_machine of the guest's ELF binaries (busybox must match).</summary>
    public required ushort ElfMachine { get; init; }
    /// <summary>Debian's architecture: busybox-static:&lt;this&gt; for the guest, dpkg --add-architecture.</summary>
    public required string DebianArch { get; init; }
    /// <summary>
    /// Whether Debian 12 ships busybox-static for <see cref="DebianArch"/>; for an arch it does not (riscv64) Kiln builds
    /// Debian's busybox source with the cross compiler (<see cref="HostSetup.GuestBusybox"/>).
    /// </summary>
    public bool DebianBusybox { get; init; } = true;
    /// <summary>Debian packages the boot needs besides QEMU (firmware QEMU loads before the kernel).</summary>
    public IReadOnlyList<(string Path, string Package)> Firmware { get; init; } = [];
    /// <summary>Whether the guest is big-endian (s390x): its ELF files, and what virtio-fs's FUSE messages carry.</summary>
    public bool BigEndian { get; init; }
    /// <summary>
    /// open(2)'s O_LARGEFILE and O_DIRECTORY on this arch (asm-generic's unless the arch numbers them itself). FUSE, and so
    /// virtio-fs, carries the guest's open flags to the host's virtiofsd unchanged.
    /// </summary>
    public int OpenLargeFile { get; init; } = 0x8000;
    public int OpenDirectory { get; init; } = 0x10000;
    /// <summary>The OCI/Go platform architecture.</summary>
    public required string OciArch { get; init; }
    /// <summary>The OCI platform variant, as containerd and LinuxKit set it (<c>v8</c> for arm64); null when the arch has none.</summary>
    public string? OciVariant { get; init; }
    /// <summary>appc's arch label for the stage1 ACI; null where appc names none (riscv64), so no ACI is made.</summary>
    public required string? AciArch { get; init; }

    /// <summary>
    /// x86_64: the second 8250 UART (ttyS1, char 4:65) carries the report; the console stays on ttyS0.
    /// </summary>
    public static readonly Arch X86_64 = new()
    {
        Name = "x86_64", Aliases = ["x86-64", "amd64", "x64", "x86"], KataName = "x86_64", KconfigSymbol = "X86", MakeArch = "x86_64", SrcArch = "x86",
        HostEquivalent = Architecture.X64, CrossPrefix = "x86_64-linux-gnu-", CrossCompilerPackage = "gcc-x86-64-linux-gnu",
        ImagePath = "arch/x86/boot/bzImage",
        QemuBinary = "qemu-system-x86_64", QemuDebianPackage = "qemu-system-x86",
        ConsoleDevice = "ttyS0", ReportDevice = "ttyS1", ReportDeviceMajor = 4, ReportDeviceMinor = 65,
        ElfMachine = 62,
        DebianArch = "amd64", OciArch = "amd64", AciArch = "amd64",
    };

    /// <summary>
    /// arm64: QEMU's virt board has a single non-secure PL011 (ttyAMA0), so the report goes over a
    /// virtio console on virtio-mmio instead (guest /dev/hvc0, char 229:0; needs CONFIG_VIRTIO_MMIO
    /// and CONFIG_VIRTIO_CONSOLE).
    /// </summary>
    public static readonly Arch Arm64 = new()
    {
        Name = "arm64", Aliases = ["aarch64"], KataName = "arm64", KconfigSymbol = "ARM64", MakeArch = "arm64", SrcArch = "arm64",
        HostEquivalent = Architecture.Arm64, CrossPrefix = "aarch64-linux-gnu-", CrossCompilerPackage = "gcc-aarch64-linux-gnu",
        ImagePath = "arch/arm64/boot/Image",
        QemuBinary = "qemu-system-aarch64", QemuDebianPackage = "qemu-system-arm",
        ConsoleDevice = "ttyAMA0", ReportDevice = "hvc0", ReportDeviceMajor = 229, ReportDeviceMinor = 0,
        ElfMachine = 183, OpenLargeFile = 0x20000, OpenDirectory = 0x4000,
        DebianArch = "arm64", OciArch = "arm64", OciVariant = "v8", AciArch = "aarch64",
    };

    /// <summary>
    /// s390x: QEMU's s390-ccw-virtio machine. The console is the SCLP VT220 terminal QEMU makes of -serial (ttysclp0);
    /// devices are virtio-ccw, and the report goes over a virtio console on ccw (guest /dev/hvc0, char 229:0).
    /// The only big-endian arch Kiln builds.
    /// </summary>
    public static readonly Arch S390x = new()
    {
        Name = "s390x", Aliases = ["s390"], KataName = "s390", KconfigSymbol = "S390", MakeArch = "s390", SrcArch = "s390",
        HostEquivalent = Architecture.S390x, CrossPrefix = "s390x-linux-gnu-", CrossCompilerPackage = "gcc-s390x-linux-gnu",
        ImagePath = "arch/s390/boot/bzImage",
        QemuBinary = "qemu-system-s390x", QemuDebianPackage = "qemu-system-misc",
        ConsoleDevice = "ttysclp0", ReportDevice = "hvc0", ReportDeviceMajor = 229, ReportDeviceMinor = 0,
        ElfMachine = 22, BigEndian = true,
        DebianArch = "s390x", OciArch = "s390x", AciArch = "s390x",
        Firmware = [("/usr/share/qemu/s390-ccw.img", "qemu-system-data")],
    };

    /// <summary>
    /// ppc64le: QEMU's pseries machine (SLOF firmware). Each -serial is a sPAPR virtual terminal, so the console is hvc0
    /// and the report the second terminal, hvc1 (char 229:1). The image is vmlinux itself, as Kata installs it for powerpc.
    /// </summary>
    public static readonly Arch Ppc64le = new()
    {
        Name = "ppc64le", Aliases = ["powerpc", "ppc64el"], KataName = "powerpc", KconfigSymbol = "PPC64", MakeArch = "powerpc", SrcArch = "powerpc",
        HostEquivalent = Architecture.Ppc64le, CrossPrefix = "powerpc64le-linux-gnu-", CrossCompilerPackage = "gcc-powerpc64le-linux-gnu",
        ImagePath = "vmlinux",
        QemuBinary = "qemu-system-ppc64", QemuDebianPackage = "qemu-system-ppc",
        ConsoleDevice = "hvc0", ReportDevice = "hvc1", ReportDeviceMajor = 229, ReportDeviceMinor = 1,
        ElfMachine = 21, OpenLargeFile = 0x10000, OpenDirectory = 0x4000,
        DebianArch = "ppc64el", OciArch = "ppc64le", AciArch = "ppc64le",
        Firmware = [("/usr/share/qemu/slof.bin", "qemu-system-data")],
    };

    /// <summary>
    /// riscv64: QEMU's virt machine with OpenSBI. One 16550 UART (ttyS0) is the console, so the report goes over a
    /// virtio console on virtio-mmio (hvc0, char 229:0). Debian 12 has no busybox-static for riscv64: Kiln builds
    /// Debian's busybox source with the cross compiler. appc names no riscv arch, so PackageStage1 makes no ACI for it.
    /// </summary>
    public static readonly Arch Riscv64 = new()
    {
        Name = "riscv64", Aliases = ["riscv"], KataName = "riscv", KconfigSymbol = "RISCV", MakeArch = "riscv", SrcArch = "riscv",
        HostEquivalent = Architecture.RiscV64, CrossPrefix = "riscv64-linux-gnu-", CrossCompilerPackage = "gcc-riscv64-linux-gnu",
        ImagePath = "arch/riscv/boot/Image",
        QemuBinary = "qemu-system-riscv64", QemuDebianPackage = "qemu-system-misc",
        ConsoleDevice = "ttyS0", ReportDevice = "hvc0", ReportDeviceMajor = 229, ReportDeviceMinor = 0,
        ElfMachine = 243,
        DebianArch = "riscv64", OciArch = "riscv64", AciArch = null,
        DebianBusybox = false,
        Firmware = [("/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin", "qemu-system-data")],
    };

    public static IReadOnlyList<Arch> All { get; } = [X86_64, Arm64, S390x, Ppc64le, Riscv64];

    /// <summary>The fragment directories of Kata's configs tree (build-kernel.sh's kernel arch names): never taken for a variant.</summary>
    public static IReadOnlyList<string> KataNames { get; } = All.Select(a => a.KataName).ToList();

    /// <summary>Accepts Kiln's names, Kata's (build-kernel.sh -a and its kernel names) and the usual aliases (amd64, aarch64).</summary>
    public static Arch Parse(string name) =>
        Find(name) ?? throw KilnException.BadInput($"Unknown architecture '{name}'. Supported: {Supported}.");

    /// <summary>The arch <paramref name="name"/> names (any spelling <see cref="Parse"/> accepts), or null.</summary>
    public static Arch? Find(string name)
    {
        var wanted = name.Trim();
        return All.FirstOrDefault(a => a.Name.Equals(wanted, StringComparison.OrdinalIgnoreCase) ||
                                       a.Aliases.Contains(wanted, StringComparer.OrdinalIgnoreCase));
    }

    /// <summary>"x86_64, arm64, …" for messages.</summary>
    public static string Supported => string.Join(", ", All.Select(a => a.Name));

    /// <summary>The arch of this machine, or null when Kiln builds no guest for it.</summary>
    public static Arch? Host => All.FirstOrDefault(a => a.IsHost);

    /// <summary>Whether this machine builds and runs the arch natively.</summary>
    public bool IsHost => RuntimeInformation.OSArchitecture == HostEquivalent;

    /// <summary>The cross-compiler prefix make needs on this host, or null for a native build.</summary>
    public string? CrossCompile => IsHost ? null : CrossPrefix;

    /// <summary>The image file name users expect: bzImage on x86 and s390, Image on arm64 and riscv, vmlinux on powerpc.</summary>
    public string ImageName => Path.GetFileName(ImagePath);

    /// <summary>The platform of this arch's entry in an OCI image index and of its image config.</summary>
    public RemoteCache.OciPlatform OciPlatform => new(OciArch, "linux", OciVariant);

    public override string ToString() => Name;
}
