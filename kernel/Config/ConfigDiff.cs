using System.Text;

namespace Kiln.Kernel.Config;

/// <summary>An option set (not n) in at least one of two configs, with both values (null: absent or n).</summary>
public sealed record ConfigDifference(string Symbol, string? Ours, string? Theirs)
{
    public bool OnlyOurs => Theirs is null;
    public bool OnlyTheirs => Ours is null;
}

/// <summary>The differences that fall under one Kconfig menu.</summary>
public sealed record ConfigDiffGroup(string Menu, IReadOnlyList<ConfigDifference> Differences);

/// <summary>
/// Compares two .config files option by option and groups what differs by the Kconfig menu each option sits in,
/// as menuconfig shows it, so a maintainer can read what a new pipeline changes against the .config an old one made.
/// </summary>
public sealed class ConfigDiff
{
    public const string NotInKconfig = "(not defined by this tree's Kconfig files)";
    public const string TopLevel = "(top level)";

    private ConfigDiff(string oursName, string theirsName, IReadOnlyList<ConfigDiffGroup> groups)
    {
        OursName = oursName;
        TheirsName = theirsName;
        Groups = groups;
    }

    public string OursName { get; }
    public string TheirsName { get; }
    public IReadOnlyList<ConfigDiffGroup> Groups { get; }
    public IEnumerable<ConfigDifference> Differences => Groups.SelectMany(g => g.Differences);

    public static ConfigDiff Compare(KernelConfig ours, string oursName, KernelConfig theirs, string theirsName, KconfigIndex index)
    {
        static string? Set(KernelConfig config, string symbol) => config.Get(symbol) is { } value && value != "n" ? value : null;

        var differences = ours.Values.Keys.Union(theirs.Values.Keys)
            .Select(symbol => new ConfigDifference(symbol, Set(ours, symbol), Set(theirs, symbol)))
            .Where(d => (d.Ours ?? d.Theirs) is not null && !ConfigValues.Equivalent(d.Ours, d.Theirs));
        (int Order, string Name) MenuOf(string symbol)
        {
            if (index.Find(symbol) is not { } known) return (int.MaxValue, NotInKconfig);
            var path = known.Definitions[0].Menu?.Path ?? Array.Empty<KconfigMenu>();
            return path.Count == 0 ? (-1, TopLevel) : (path[^1].Order, string.Join(" > ", path.Select(m => m.Title)));
        }

        var groups = differences
            .GroupBy(d => MenuOf(d.Symbol))
            .OrderBy(g => g.Key.Order).ThenBy(g => g.Key.Name, StringComparer.Ordinal)
            .Select(g => new ConfigDiffGroup(g.Key.Name, g.OrderBy(d => d.Symbol, StringComparer.Ordinal).ToList()))
            .ToList();
        return new ConfigDiff(oursName, theirsName, groups);
    }

    /// <summary>
    /// The report: a legend and counts, then per menu one line per option, <c>+</c> set only in ours,
    /// <c>-</c> set only in theirs, <c>~</c> set in both to different values.
    /// </summary>
    public string Render()
    {
        var all = Differences.ToList();
        var text = new StringBuilder();
        text.AppendLine($"+ set only in {OursName}: {all.Count(d => d.OnlyOurs)}");
        text.AppendLine($"- set only in {TheirsName}: {all.Count(d => d.OnlyTheirs)}");
        text.AppendLine($"~ set in both, to different values: {all.Count(d => !d.OnlyOurs && !d.OnlyTheirs)}");
        foreach (var group in Groups)
        {
            text.AppendLine().AppendLine(group.Menu);
            foreach (var d in group.Differences)
                text.AppendLine(d.OnlyOurs ? $"  + {ConfigValues.Prefix}{d.Symbol}={d.Ours}"
                    : d.OnlyTheirs ? $"  - {ConfigValues.Prefix}{d.Symbol}={d.Theirs}"
                    : $"  ~ {ConfigValues.Prefix}{d.Symbol}={d.Ours} (theirs: {d.Theirs})");
        }
        return text.ToString();
    }

    /// <summary>Writes <see cref="Render"/> to <paramref name="path"/> through a temporary file, so a reader never sees half a report.</summary>
    public void Write(string path) => Kiln.Kernel.IO.AtomicFile.WriteAllText(path, Render());
}
