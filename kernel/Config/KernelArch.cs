using System.Runtime.InteropServices;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Config;

/// <summary>
/// A guest architecture as Kiln names it, with the names kbuild wants for it:
/// <c>ARCH=</c> for make, <c>SRCARCH</c> for the arch/ directory Kconfig sources.
/// </summary>
public sealed record KernelArch(string Name, string MakeArch, string SrcArch, Architecture HostEquivalent, string CrossPrefix)
{
    public static readonly KernelArch X86_64 = new("x86_64", "x86_64", "x86", Architecture.X64, "x86_64-linux-gnu-");
    public static readonly KernelArch Arm64 = new("arm64", "arm64", "arm64", Architecture.Arm64, "aarch64-linux-gnu-");

    public static IReadOnlyList<KernelArch> All { get; } = new[] { X86_64, Arm64 };

    /// <summary>
    /// The fragment directories of Kata's configs tree: kernel arch names, which build-kernel.sh -a maps from
    /// uname names (aarch64, ppc64le, riscv64, s390x). Kiln's names are the same for the arches it builds.
    /// </summary>
    public static IReadOnlyList<string> KataNames { get; } = new[] { "x86_64", "arm64", "s390", "powerpc", "riscv" };

    /// <summary>Accepts Kiln's names, Kata's (build-kernel.sh -a) and the usual aliases (amd64, aarch64).</summary>
    public static KernelArch Parse(string name) => name.ToLowerInvariant() switch
    {
        "x86_64" or "amd64" or "x64" => X86_64,
        "arm64" or "aarch64" => Arm64,
        "s390" or "s390x" or "powerpc" or "ppc64le" or "riscv" or "riscv64" => throw KilnException.BadInput(
            $"Architecture '{name}' is one Kata builds, but Kiln does not (no QEMU boot test or toolchain for it). " +
            $"Supported: {string.Join(", ", All.Select(a => a.Name))}."),
        _ => throw KilnException.BadInput(
            $"Unknown architecture '{name}'. Supported: {string.Join(", ", All.Select(a => a.Name))}."),
    };

    /// <summary>The cross-compiler prefix make needs on this host, or null for a native build.</summary>
    public string? CrossCompile => RuntimeInformation.OSArchitecture == HostEquivalent ? null : CrossPrefix;

    /// <summary>Variables every make invocation for this arch passes (ARCH=…, CROSS_COMPILE=… when cross-building).</summary>
    public IEnumerable<string> MakeVariables()
    {
        yield return "ARCH=" + MakeArch;
        if (CrossCompile is { } prefix) yield return "CROSS_COMPILE=" + prefix;
    }

    public override string ToString() => Name;
}
