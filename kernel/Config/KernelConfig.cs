using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Config;

/// <summary>
/// A kernel .config: symbol (without CONFIG_) to value as written. <c># CONFIG_X is not set</c> reads as n;
/// options the file does not mention are absent (<see cref="Get"/> returns null).
/// </summary>
public sealed partial class KernelConfig
{
    private readonly Dictionary<string, string> _values;

    private KernelConfig(Dictionary<string, string> values, string? path)
    {
        _values = values;
        Path = path;
    }

    /// <summary>The file this config was read from, when it came from one.</summary>
    public string? Path { get; }
    public IReadOnlyDictionary<string, string> Values => _values;

    /// <summary>The value as written (strings keep their quotes), or null when the option is not in the file.</summary>
    public string? Get(string symbol) => _values.GetValueOrDefault(symbol);

    /// <summary>Whether the option is y or m.</summary>
    public bool IsEnabled(string symbol) => Get(symbol) is "y" or "m";

    [GeneratedRegex(@"^CONFIG_([A-Za-z0-9_]+)=(.*)$")]
    private static partial Regex AssignmentRegex();

    [GeneratedRegex(@"^# CONFIG_([A-Za-z0-9_]+) is not set$")]
    private static partial Regex NotSetRegex();

    public static KernelConfig Load(string path)
    {
        if (!File.Exists(path)) throw KilnException.BadInput($"Kernel config {path} does not exist.");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Reads .config text; comments and lines kconfig itself would ignore are skipped.</summary>
    public static KernelConfig Parse(string text, string? path = null)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (AssignmentRegex().Match(line) is { Success: true } assignment)
                values[assignment.Groups[1].Value] = assignment.Groups[2].Value;
            else if (NotSetRegex().Match(line) is { Success: true } notSet)
                values[notSet.Groups[1].Value] = "n";
        }
        return new KernelConfig(values, path);
    }
}
