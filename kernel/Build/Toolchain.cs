using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Build;

/// <summary>The compiler and make options for an arch, and the versions that go into the cache identity.</summary>
public sealed record Toolchain(string Arch, string KernelArch, string? CrossCompile, string Compiler, string ImagePath)
{
    public static Toolchain For(string arch) => arch switch
    {
        "x86_64" => new Toolchain(arch, "x86_64", null, "gcc", "arch/x86/boot/bzImage"),
        "arm64" => new Toolchain(arch, "arm64", "aarch64-linux-gnu-", "aarch64-linux-gnu-gcc", "arch/arm64/boot/Image"),
        _ => throw KilnException.BadInput($"--arch={arch}: unknown architecture. Valid: x86_64, arm64."),
    };

    /// <summary>The image file name users expect: bzImage on x86, Image on arm64.</summary>
    public string ImageName => Path.GetFileName(ImagePath);

    /// <summary>make's command line variables for this arch, with ccache in front of the compiler.</summary>
    public IEnumerable<string> MakeVariables(bool ccache)
    {
        yield return "ARCH=" + KernelArch;
        if (CrossCompile is not null) yield return "CROSS_COMPILE=" + CrossCompile;
        if (ccache) yield return $"CC=ccache {Compiler}";
    }

    /// <summary>"gcc (Debian 12.2.0-14) 12.2.0": the first version line of the compiler the runtime builds with.</summary>
    public string Describe(BuildRuntime runtime, IKilnLog log) =>
        runtime.Run(new Command(Compiler, "--version") { Purpose = "Query the compiler" }, Array.Empty<string>(), log)
            .StandardOutput.Split('\n')[0].Trim();
}
