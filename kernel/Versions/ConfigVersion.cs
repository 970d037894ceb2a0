using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Versions;

/// <summary>kata_config_version: one integer, bumped whenever what a build contains changes.</summary>
public static class ConfigVersion
{
    public static int Load(string path)
    {
        if (!File.Exists(path))
            throw KilnException.BadInput($"{path}: not found. It holds one integer, the config version counter (start with 1).");
        var lines = File.ReadAllLines(path).Select((l, i) => (Text: l.Trim(), Number: i + 1))
            .Where(l => l.Text.Length > 0 && !l.Text.StartsWith('#')).ToList();
        // Name the line of the offending value (the first value line, or the second when there are two).
        var line = lines.Count switch { 0 => 1, 1 => lines[0].Number, _ => lines[1].Number };
        if (lines.Count != 1 || !int.TryParse(lines[0].Text, System.Globalization.NumberStyles.None, null, out var counter))
            throw KilnException.BadInput($"{path}:{line}: expected one non-negative integer (such as 83), found '{string.Join(" ", lines.Select(l => l.Text))}'.");
        return counter;
    }
}
