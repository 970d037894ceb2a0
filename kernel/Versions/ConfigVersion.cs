using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Versions;

/// <summary>kata_config_version: one integer, bumped whenever what a build contains changes.</summary>
public static class ConfigVersion
{
    public static int Load(string path)
    {
        if (!File.Exists(path))
            throw KilnException.BadInput($"{path}: not found. It holds one integer, the config version counter (start with 1).");
        var lines = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        if (lines.Count != 1 || !int.TryParse(lines[0], System.Globalization.NumberStyles.None, null, out var counter))
            throw KilnException.BadInput($"{path}:1: expected one non-negative integer (such as 83), found '{string.Join(" ", lines)}'.");
        return counter;
    }
}
