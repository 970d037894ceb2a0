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

    /// <summary>Accepts Kiln's names and the usual aliases (amd64, aarch64).</summary>
    public static KernelArch Parse(string name) => name.ToLowerInvariant() switch
    {
        "x86_64" or "amd64" or "x64" => X86_64,
        "arm64" or "aarch64" => Arm64,
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
