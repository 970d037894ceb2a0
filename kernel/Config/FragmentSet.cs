using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Config;

/// <summary>The same option requested twice with different values; the later request wins, as in merge_config.sh.</summary>
public sealed record OptionConflict(RequestedOption Overridden, RequestedOption Winner)
{
    public override string ToString() =>
        $"{Winner.Display} in {Winner.Origin} overrides {Overridden.Display} from {Overridden.Origin}";
}

/// <summary>
/// The fragments one build merges, in merge order: <c>common/</c>, then <c>&lt;arch&gt;/</c>, then one
/// directory per variant (variant <c>dbg</c> is <c>debug/</c>), each sorted by file name, without
/// fragments whose first-line tags exclude the arch.
/// </summary>
public sealed class FragmentSet
{
    /// <summary>Variant names that differ from their directory name.</summary>
    private static readonly IReadOnlyDictionary<string, string> VariantDirectories =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["dbg"] = "debug" };

    public FragmentSet(IEnumerable<ConfigFragment> fragments)
    {
        Fragments = fragments.ToList();
        var effective = new Dictionary<string, RequestedOption>();
        var order = new List<string>();
        var conflicts = new List<OptionConflict>();
        foreach (var option in Fragments.SelectMany(f => f.Options))
        {
            if (effective.TryGetValue(option.Symbol, out var previous))
            {
                if (!ConfigValues.Equivalent(previous.Value, option.Value)) conflicts.Add(new OptionConflict(previous, option));
            }
            else
            {
                order.Add(option.Symbol);
            }
            effective[option.Symbol] = option;
        }
        Requested = order.Select(s => effective[s]).ToList();
        Conflicts = conflicts;
    }

    public IReadOnlyList<ConfigFragment> Fragments { get; }
    /// <summary>One entry per option: the request that wins (the last one), in first-request order.</summary>
    public IReadOnlyList<RequestedOption> Requested { get; }
    public IReadOnlyList<OptionConflict> Conflicts { get; }

    /// <summary>Picks the fragments for an arch and variants from a fragments root such as <c>configs/fragments</c>.</summary>
    public static FragmentSet Select(string fragmentsRoot, Arch arch, IEnumerable<string>? variants = null)
    {
        if (!Directory.Exists(fragmentsRoot))
            throw KilnException.BadInput($"Config fragment directory {fragmentsRoot} does not exist.");
        var directories = new List<string> { "common", arch.Name };
        foreach (var variant in variants ?? Enumerable.Empty<string>())
        {
            var directory = VariantDirectories.TryGetValue(variant, out var mapped) ? mapped : variant;
            if (!Directory.Exists(Path.Combine(fragmentsRoot, directory)))
                throw KilnException.BadInput(
                    $"Unknown variant '{variant}': there is no {Path.Combine(fragmentsRoot, directory)}. " +
                    $"Known: {string.Join(", ", KnownVariants(fragmentsRoot))}.");
            if (!directories.Contains(directory)) directories.Add(directory);
        }

        var fragments = new List<ConfigFragment>();
        foreach (var directory in directories)
        {
            var full = Path.Combine(fragmentsRoot, directory);
            if (!Directory.Exists(full)) continue;
            foreach (var file in Directory.EnumerateFiles(full, "*.conf").Order(StringComparer.Ordinal))
            {
                var fragment = ConfigFragment.Load(file, directory + "/" + Path.GetFileName(file));
                if (fragment.AppliesTo(arch)) fragments.Add(fragment);
            }
        }
        return new FragmentSet(fragments);
    }

    private static IEnumerable<string> KnownVariants(string fragmentsRoot) =>
        Directory.EnumerateDirectories(fragmentsRoot)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(d => d != "common" && Arch.All.All(a => a.Name != d))
            .Select(d => VariantDirectories.FirstOrDefault(kv => kv.Value == d).Key ?? d)
            .Order(StringComparer.Ordinal);
}
