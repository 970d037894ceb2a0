using System.Text.RegularExpressions;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.Build;

/// <summary>
/// Before Configure: the tree and the toolchain must suit each other, or the build fails minutes later in Kconfig's
/// compiler probe. The minimum is the tree's own (scripts/min-tool-version.sh, run with the arch's SRCARCH as Kbuild runs it).
/// </summary>
public static partial class ToolchainCheck
{
    public static void Require(Toolchain toolchain, Arch arch, string sourceDir, BuildRuntime runtime, IKilnLog log)
    {
        var kernel = LocalTreeProvider.ReadMakefileVersion(Path.Combine(sourceDir, "Makefile"))
                     ?? throw KilnException.BadInput($"{sourceDir}/Makefile: no VERSION/PATCHLEVEL lines; is this a kernel tree?");
        var installed = InstalledVersion(toolchain, arch, runtime, log);
        var minimum = TreeMinimum(toolchain, arch, sourceDir, log);
        log.Verbose($"{toolchain} {installed} for Linux {kernel} on {arch}" + (minimum is null ? "" : $" (the tree asks {minimum} or newer)"));
        toolchain.RequireSupports(kernel, arch, installed, minimum);
        if (toolchain.ExtraMakeVariables.Contains("LLVM=1") && LlvmMakeCommands(sourceDir) is { } commands)
        {
            var command = commands.GetValueOrDefault(arch.SrcArch);
            if (command != "LLVM=1")
                throw KilnException.BadInput($"--toolchain={toolchain}: Linux {kernel}'s {LlvmDocument} " +
                                             (command is null ? $"does not list {arch.SrcArch} among the architectures that build with LLVM" : $"lists {arch.SrcArch} as building with {command} only") +
                                             $", not with LLVM=1 (clang's assembler and lld), which Kiln's clang toolchain uses. Use --toolchain=gcc for {arch}.");
        }
    }

    public const string LlvmDocument = "Documentation/kbuild/llvm.rst";

    /// <summary>
    /// The tree's own table of which make command builds each architecture with LLVM (llvm.rst's "Supported Architectures":
    /// arm64 LLVM=1, powerpc CC=clang, …), by source arch; null for a tree without the document or the table.
    /// </summary>
    public static IReadOnlyDictionary<string, string>? LlvmMakeCommands(string sourceDir)
    {
        var path = Path.Combine(sourceDir, LlvmDocument);
        if (!File.Exists(path)) return null;
        var section = File.ReadAllText(path);
        var start = section.IndexOf("Supported Architectures", StringComparison.Ordinal);
        if (start < 0) return null;
        var rows = LlvmTableRow().Matches(section[start..]).ToDictionary(m => m.Groups[1].Value.Trim(), m => m.Groups[2].Value.Trim());
        rows.Remove("Architecture");
        return rows.Count == 0 ? null : rows;
    }

    // "   * - arm64\n     - Supported\n     - ``LLVM=1``": the architecture, its level of support and its make command.
    [GeneratedRegex(@"^\s*\* - (\S[^\n]*)\n\s*- [^\n]*\n\s*- ``([^`]+)``", RegexOptions.Multiline)]
    private static partial Regex LlvmTableRow();

    /// <summary>The compiler's version (gcc 12.2.0, clang 14.0.6) in the runtime that builds: the first one its description (which leads with the compiler's --version line) names.</summary>
    public static Version InstalledVersion(Toolchain toolchain, Arch arch, BuildRuntime runtime, IKilnLog log)
    {
        var described = runtime.DescribeCompiler(arch, toolchain, log);
        return ParseVersion(described) ?? throw KilnException.Infrastructure($"{toolchain.Compiler(arch)} --version printed no version: {described}");
    }

    /// <summary>The first x.y.z in a --version line: "gcc (Debian 12.2.0-14) 12.2.0" is 12.2.0, "Debian clang version 14.0.6" 14.0.6.</summary>
    public static Version? ParseVersion(string line) =>
        VersionNumber().Match(line) is { Success: true } m ? new Version(int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value), int.Parse(m.Groups[3].Value)) : null;

    /// <summary>What the tree's scripts/min-tool-version.sh gives for the toolchain and arch; null for a tree without the script (before 5.15).</summary>
    public static Version? TreeMinimum(Toolchain toolchain, Arch arch, string sourceDir, IKilnLog log)
    {
        var script = Path.Combine(sourceDir, "scripts", "min-tool-version.sh");
        if (!File.Exists(script)) return null;
        var run = new Command("sh", script, toolchain.MinToolName) { Purpose = "Ask the tree for its minimum " + toolchain, AcceptedExitCodes = [0, 1] };
        run.Environment["SRCARCH"] = arch.SrcArch;
        var result = run.Run(log);
        return result.ExitCode == 0 ? ParseVersion(result.StandardOutput) : null;
    }

    [GeneratedRegex(@"(\d+)\.(\d+)\.(\d+)")]
    private static partial Regex VersionNumber();
}
