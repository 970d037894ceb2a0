using System.Security.Cryptography;
using System.Text;

namespace Kiln.Kernel.Config;

/// <summary>
/// Remembers which inputs produced a build directory's verified .config, so an unchanged rerun skips
/// the merge and make steps (seconds that dominate an incremental rebuild). Any change to the inputs, to how
/// they merge or to .config itself invalidates it.
/// </summary>
public static class ConfigureStamp
{
    private const string FileName = ".kiln-configured";

    /// <summary>The inputs that decide .config: tree and the series applied to it, fragments (by content), base config and how it merges, allow-list.</summary>
    public static string InputsHash(string sourceDir, FragmentSet fragments, string baseConfig, AllowList allowList)
    {
        var text = new StringBuilder();
        text.Append("tree ").Append(Path.GetFullPath(sourceDir)).Append('\n');
        // A working tree keeps its path from one patch series to the next: its source and the bytes of every file its
        // series touches that Kconfig can read. A series that changes only C code keeps the verified .config.
        if (Patches.TreeState.Read(sourceDir) is { } state)
        {
            text.Append("tree-source ").Append(state.SourceIdentity).Append('\n');
            foreach (var relative in state.Touched.Where(MayAffectConfig))
            {
                var path = Path.Combine(sourceDir, relative);
                text.Append("tree-file ").Append(relative).Append(' ').Append(File.Exists(path) ? FileSha(path) : "absent").Append('\n');
            }
        }
        text.Append("base ").Append(baseConfig).Append('\n');
        text.Append("merge ").Append(ConfigureRequest.SemanticsFor(baseConfig)).Append('\n');
        if (File.Exists(baseConfig)) text.Append("base-sha ").Append(FileSha(baseConfig)).Append('\n');
        foreach (var fragment in fragments.Fragments)
            text.Append("fragment ").Append(fragment.DisplayName).Append(' ').Append(FileSha(fragment.Path)).Append('\n');
        foreach (var entry in allowList.Entries)
            text.Append(entry.IsKataPattern ? "allow-pattern " : "allow ").Append(entry.Pattern).Append(' ').Append(entry.Reason).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// Whether a source file can change what Configure makes: every Kconfig file (Documentation/Kconfig is sourced too),
    /// everything under scripts/ (the conf program and what Kconfig runs), and anything else but code, headers, device
    /// trees and documentation, to be safe.
    /// </summary>
    public static bool MayAffectConfig(string relative) =>
        Path.GetFileName(relative).StartsWith("Kconfig", StringComparison.Ordinal) ||
        relative.StartsWith("scripts/", StringComparison.Ordinal) ||
        (!relative.StartsWith("Documentation/", StringComparison.Ordinal) && !CodeExtensions.Contains(Path.GetExtension(relative), StringComparer.Ordinal));

    private static readonly string[] CodeExtensions = [".c", ".h", ".S", ".rs", ".dts", ".dtsi"];

    public static bool IsCurrent(string buildDir, string inputsHash)
    {
        var stamp = Path.Combine(buildDir, FileName);
        var config = Path.Combine(buildDir, ".config");
        if (!File.Exists(stamp) || !File.Exists(config)) return false;
        var lines = File.ReadAllLines(stamp);
        return lines.Length == 2 && lines[0] == inputsHash && lines[1] == FileSha(config);
    }

    /// <summary>Written only after verification passed, so a stamp always stands for a verified .config.</summary>
    public static void Write(string buildDir, string inputsHash) =>
        File.WriteAllLines(Path.Combine(buildDir, FileName), new[] { inputsHash, FileSha(Path.Combine(buildDir, ".config")) });

    public static void Clear(string buildDir)
    {
        if (Directory.Exists(buildDir)) File.Delete(Path.Combine(buildDir, FileName));
    }

    private static string FileSha(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
