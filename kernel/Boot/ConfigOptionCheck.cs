using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Boot;

/// <summary>A requested config option: <c>CONFIG_X=value</c>, or <c>=n</c> / "is not set" meaning absent.</summary>
public sealed partial record ConfigRequirement(string Name, string? Value)
{
    public bool WantsUnset => Value is null;

    public override string ToString() => WantsUnset ? $"# {Name} is not set" : $"{Name}={Value}";

    [GeneratedRegex(@"^#\s*(CONFIG_\w+) is not set$")]
    private static partial Regex NotSet();

    [GeneratedRegex(@"^(CONFIG_\w+)=(.*)$")]
    private static partial Regex Assignment();

    /// <summary>Parses one requested line; throws BadInput for anything else so typos do not pass silently.</summary>
    public static ConfigRequirement Parse(string line)
    {
        var text = line.Trim();
        if (NotSet().Match(text) is { Success: true } unset) return new ConfigRequirement(unset.Groups[1].Value, null);
        if (Assignment().Match(text) is { Success: true } set)
        {
            var value = set.Groups[2].Value;
            return new ConfigRequirement(set.Groups[1].Value, value == "n" ? null : value);
        }
        throw KilnException.BadInput($"Cannot read config option '{line}': use CONFIG_X=y, CONFIG_X=n or '# CONFIG_X is not set'.");
    }
}

/// <summary>Compares requested options against a kernel's .config text (from /proc/config.gz).</summary>
public static partial class ConfigOptionCheck
{
    [GeneratedRegex(@"^(CONFIG_\w+)=(.*)$")]
    private static partial Regex Assignment();

    /// <summary>The options a .config sets, by name (CONFIG_X → y, m, "string", number).</summary>
    public static IReadOnlyDictionary<string, string> Values(string configText)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in configText.Split('\n'))
        {
            if (Assignment().Match(line.TrimEnd('\r')) is { Success: true } m) values[m.Groups[1].Value] = m.Groups[2].Value;
        }
        return values;
    }

    /// <summary>Each requirement the config does not meet, with what the config has instead.</summary>
    public static IReadOnlyList<string> Mismatches(string configText, IEnumerable<ConfigRequirement> requirements)
    {
        var values = Values(configText);

        var mismatches = new List<string>();
        foreach (var wanted in requirements)
        {
            var has = values.TryGetValue(wanted.Name, out var actual);
            var met = wanted.WantsUnset ? !has : has && actual == wanted.Value;
            if (!met) mismatches.Add($"{wanted} requested, kernel has {(has ? $"{wanted.Name}={actual}" : "it not set")}");
        }
        return mismatches;
    }
}
