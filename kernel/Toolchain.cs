using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel;

/// <summary>
/// The compiler family a kernel is built with, as TuxMake names them: Debian's gcc (cross gcc-&lt;triplet&gt; for another
/// arch), or Debian's clang with lld and LLVM's binutils (the kernel's LLVM=1, plus LLVM_IAS=1 for clang's integrated
/// assembler). One clang builds every arch: the kernel derives clang's --target from CROSS_COMPILE.
/// </summary>
public sealed record Toolchain
{
    public required string Name { get; init; }
    public required IReadOnlyList<string> Aliases { get; init; }
    /// <summary>What make gets besides ARCH and CROSS_COMPILE (which every toolchain passes).</summary>
    public required IReadOnlyList<string> ExtraMakeVariables { get; init; }
    /// <summary>The programs a build runs beyond make's own, with the Debian package of each (cross gcc is the arch's).</summary>
    public required Func<Arch, IReadOnlyList<(string Program, string Package)>> Programs { get; init; }
    /// <summary>The C compiler make runs for <c>arch</c>.</summary>
    public required Func<Arch, string> Compiler { get; init; }
    /// <summary>The linker whose version joins the identity; null for gcc, whose identity has always been the compiler's line alone.</summary>
    public string? Linker { get; init; }
    /// <summary>The kernel's name for it in scripts/min-tool-version.sh.</summary>
    public required string MinToolName { get; init; }

    public static readonly Toolchain Gcc = new()
    {
        Name = "gcc", Aliases = ["gnu"], ExtraMakeVariables = [], MinToolName = "gcc",
        Compiler = arch => arch.CrossCompile + "gcc",
        Programs = arch => arch.CrossCompile is null ? [("gcc", "gcc")] : [("gcc", "gcc"), (arch.CrossCompile + "gcc", arch.CrossCompilerPackage)],
    };

    public static readonly Toolchain Clang = new()
    {
        Name = "clang", Aliases = ["llvm"], ExtraMakeVariables = ["LLVM=1", "LLVM_IAS=1"], MinToolName = "llvm", Linker = "ld.lld",
        Compiler = _ => "clang",
        // Host programs (fixdep, Kconfig) are built with clang too under LLVM=1; the host's gcc stays for the selftests.
        Programs = _ => [("gcc", "gcc"), ("clang", "clang"), ("ld.lld", "lld"), ("llvm-ar", "llvm"), ("llvm-objcopy", "llvm")],
    };

    public static IReadOnlyList<Toolchain> All { get; } = [Gcc, Clang];

    /// <summary>
    /// What a build's names (build directory, default --out, registry tags, matrix job and CI cache key) add for this
    /// toolchain: nothing for gcc, so everything named before toolchains keeps its name; "-clang" for clang.
    /// </summary>
    public string NameSuffix => this == Gcc ? "" : "-" + Name;

    /// <summary>"gcc, clang" for messages.</summary>
    public static string Supported => string.Join(", ", All.Select(t => t.Name));

    /// <summary>The toolchain named <paramref name="name"/> (or an alias), or null.</summary>
    public static Toolchain? Find(string name) =>
        All.FirstOrDefault(t => t.Name.Equals(name, StringComparison.OrdinalIgnoreCase) || t.Aliases.Contains(name, StringComparer.OrdinalIgnoreCase));

    /// <summary>Variables every make invocation for <paramref name="arch"/> passes: ARCH, CROSS_COMPILE when cross-building, LLVM=1 for clang, ccache in front of the compiler.</summary>
    public IEnumerable<string> MakeVariables(Arch arch, bool ccache = false)
    {
        yield return "ARCH=" + arch.MakeArch;
        if (arch.CrossCompile is { } prefix) yield return "CROSS_COMPILE=" + prefix;
        foreach (var variable in ExtraMakeVariables) yield return variable;
        if (ccache) yield return $"CC=ccache {Compiler(arch)}";
    }

    /// <summary>
    /// The oldest kernel whose build system takes LLVM=1 LLVM_IAS=1 for every arch Kiln builds (5.10: LLVM=1 came in 5.7,
    /// the integrated assembler for arm64 and x86 in 5.9–5.10); older trees do not know the variables and build with GNU as and ld.
    /// </summary>
    public static readonly (int Major, int Minor) OldestClangKernel = (5, 10);

    /// <summary>
    /// Refuses (exit 2, both versions named) a kernel this toolchain cannot build: clang with a tree older than
    /// <see cref="OldestClangKernel"/>, or any toolchain older than the minimum the tree's scripts/min-tool-version.sh
    /// gives for the arch (6.1 asks LLVM 15 for s390; Debian 12 has clang 14). <paramref name="minimum"/> is that script's answer, null without the script.
    /// </summary>
    public void RequireSupports(Versions.KernelVersion kernel, Arch arch, Version installed, Version? minimum)
    {
        if (this == Clang && (kernel.Major, kernel.Minor).CompareTo(OldestClangKernel) < 0)
            throw KilnException.BadInput($"--toolchain=clang: Linux {kernel} is too old for clang {installed}: kernels before " +
                                         $"{OldestClangKernel.Major}.{OldestClangKernel.Minor} do not build with LLVM=1 LLVM_IAS=1. Use --toolchain=gcc or a newer kernel.");
        if (minimum is not null && installed < minimum)
            throw KilnException.BadInput($"--toolchain={Name}: Linux {kernel} needs {Name} {minimum} or newer for {arch} (its scripts/min-tool-version.sh), " +
                                         $"and the installed {Compiler(arch)} is {installed}. Use --toolchain={(this == Gcc ? Clang : Gcc).Name} or install a newer {Name}.");
    }

    public override string ToString() => Name;
}
