using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Config;

/// <summary>The same option requested twice with different values; the later request wins, as in merge_config.sh.</summary>
public sealed record OptionConflict(RequestedOption Overridden, RequestedOption Winner)
{
    public override string ToString() =>
        $"{Winner.Display} in {Winner.Origin} overrides {Overridden.Display} from {Overridden.Origin}";
}

/// <summary>
/// Which fragment directories one build reads, beyond <c>common/</c> and <c>&lt;arch&gt;/</c>: Kiln's variants
/// (<c>dbg</c> reads <c>debug/</c>) and Kata's build types (<c>build-type/&lt;name&gt;/</c>) and confidential
/// guest type (<c>&lt;arch&gt;/&lt;type&gt;/</c>, plus <c>common/confidential_containers/tmpfs.conf</c>).
/// </summary>
public sealed record FragmentSelection(Arch Arch)
{
    public IReadOnlyList<string> Variants { get; init; } = Array.Empty<string>();
    /// <summary>Kata's <c>build-kernel.sh -b NAME</c>; empty for none.</summary>
    public string BuildType { get; init; } = "";
    /// <summary>Kata's <c>build-kernel.sh -x</c> (type <c>confidential</c>); empty for none.</summary>
    public string ConfGuest { get; init; } = "";
}

/// <summary>
/// The fragments one build merges, in merge order, chosen the way Kata's build-kernel.sh chooses them:
/// <c>common/*.conf</c> without those tagged <c>!&lt;arch&gt;</c> (or <c>!&lt;conf-guest&gt;</c>), <c>&lt;arch&gt;/*.conf</c>,
/// every <c>*.conf</c> under <c>build-type/&lt;name&gt;/</c>, <c>&lt;arch&gt;/&lt;conf-guest&gt;/*.conf</c> and
/// <c>common/confidential_containers/tmpfs.conf</c>, then one directory per variant (variant <c>dbg</c> is
/// <c>debug/</c>, last like Kata's debug fragments). Each directory in file-name order (ordinal, as in the C locale).
/// </summary>
public sealed class FragmentSet
{
    /// <summary>Variant names that differ from their directory name.</summary>
    private static readonly IReadOnlyDictionary<string, string> VariantDirectories =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["dbg"] = "debug" };

    public const string BuildTypeDirectory = "build-type";
    /// <summary>build-kernel.sh adds this file for every confidential guest type.</summary>
    public const string ConfidentialTmpfs = "common/confidential_containers/tmpfs.conf";

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
    public static FragmentSet Select(string fragmentsRoot, Arch arch, IEnumerable<string>? variants = null) =>
        Select(fragmentsRoot, new FragmentSelection(arch) { Variants = variants?.ToList() ?? new List<string>() });

    public static FragmentSet Select(string fragmentsRoot, FragmentSelection selection)
    {
        if (!Directory.Exists(fragmentsRoot))
            throw KilnException.BadInput($"Config fragment directory {fragmentsRoot} does not exist.");
        var arch = selection.Arch;
        var fragments = new List<ConfigFragment>();
        void Add(string relative)
        {
            var fragment = ConfigFragment.Load(Path.Combine(fragmentsRoot, relative), relative.Replace('\\', '/'));
            if (fragment.AppliesTo(arch) && (selection.ConfGuest.Length == 0 || !fragment.IsTagged(selection.ConfGuest)))
                fragments.Add(fragment);
        }
        void AddDirectory(string relative, bool recursive = false)
        {
            var full = Path.Combine(fragmentsRoot, relative);
            if (!Directory.Exists(full)) return;
            RefuseTemplates(full, recursive);
            foreach (var file in Directory.EnumerateFiles(full, "*.conf", recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
                         .Select(f => Path.GetRelativePath(fragmentsRoot, f))
                         .Order(StringComparer.Ordinal))
                Add(file);
        }

        AddDirectory("common");
        AddDirectory(arch.KataName);
        CheckKataFolders(fragmentsRoot, selection);
        if (selection.BuildType.Length > 0) AddDirectory(Path.Combine(BuildTypeDirectory, selection.BuildType), recursive: true);
        if (selection.ConfGuest.Length > 0)
        {
            AddDirectory(Path.Combine(arch.KataName, selection.ConfGuest));
            fragments.Add(ConfigFragment.Load(Path.Combine(fragmentsRoot, ConfidentialTmpfs), ConfidentialTmpfs));
        }
        foreach (var variant in selection.Variants)
        {
            var directory = VariantDirectories.TryGetValue(variant, out var mapped) ? mapped : variant;
            if (!Directory.Exists(Path.Combine(fragmentsRoot, directory)))
                throw KilnException.BadInput(
                    $"Unknown variant '{variant}': there is no {Path.Combine(fragmentsRoot, directory)}. " +
                    $"Known: {string.Join(", ", KnownVariants(fragmentsRoot))}.");
            AddDirectory(directory);
        }
        return new FragmentSet(fragments.DistinctBy(f => f.DisplayName));
    }

    /// <summary>
    /// The folders --build-type and --conf-guest name exist and hold fragments (exit 2 naming the option otherwise):
    /// only directory and file lookups, so options are checked before any work. <see cref="Select(string, FragmentSelection)"/> checks the same.
    /// </summary>
    public static void CheckKataFolders(string fragmentsRoot, FragmentSelection selection)
    {
        if (selection.BuildType.Length > 0)
        {
            CheckName("--build-type", selection.BuildType);
            var full = Path.Combine(fragmentsRoot, BuildTypeDirectory, selection.BuildType);
            if (!Directory.Exists(full))
                throw KilnException.BadInput($"--build-type={selection.BuildType}: there is no {full}/. " +
                                             $"Known build types: {Known(Path.Combine(fragmentsRoot, BuildTypeDirectory))}.");
            if (!Directory.EnumerateFiles(full, "*.conf", SearchOption.AllDirectories).Any())
                throw KilnException.BadInput($"--build-type={selection.BuildType}: {full}/ has no *.conf fragments.");
        }
        if (selection.ConfGuest.Length > 0)
        {
            CheckName("--conf-guest", selection.ConfGuest);
            var full = Path.Combine(fragmentsRoot, selection.Arch.KataName, selection.ConfGuest);
            if (!Directory.Exists(full) || !Directory.EnumerateFiles(full, "*.conf").Any())
                throw KilnException.BadInput($"--conf-guest={selection.ConfGuest}: there are no fragments in {full}/ for {selection.Arch}.");
            if (!File.Exists(Path.Combine(fragmentsRoot, ConfidentialTmpfs)))
                throw KilnException.BadInput($"--conf-guest={selection.ConfGuest}: {Path.Combine(fragmentsRoot, ConfidentialTmpfs)} is missing; " +
                                             "Kata's build-kernel.sh adds it to every confidential guest.");
        }
    }

    /// <summary>A build type or guest type names one folder: a path would reach outside the fragments tree.</summary>
    private static void CheckName(string option, string name)
    {
        if (name is "." or ".." || name.IndexOfAny(['/', '\\']) >= 0)
            throw KilnException.BadInput($"{option}={name}: expected a folder name (as Kata's build-kernel.sh takes it), not a path.");
    }

    /// <summary>Kata's GPU fragments are envsubst templates that build-kernel.sh -g fills in; Kiln has no equivalent.</summary>
    private static void RefuseTemplates(string directory, bool recursive)
    {
        var template = Directory.EnumerateFiles(directory, "*.conf.in", recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .Order(StringComparer.Ordinal).FirstOrDefault();
        if (template is not null)
            throw KilnException.BadInput($"{template} is a fragment template (Kata's build-kernel.sh -g fills it in with envsubst); " +
                                         "Kiln does not support GPU templates. Write the fragment out as a .conf file, or leave this directory out.");
    }

    private static string Known(string directory) =>
        Directory.Exists(directory)
            ? string.Join(", ", Directory.EnumerateDirectories(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal)) is { Length: > 0 } names ? names : "none"
            : "none";

    private static IEnumerable<string> KnownVariants(string fragmentsRoot) =>
        Directory.EnumerateDirectories(fragmentsRoot)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(d => d != "common" && d != BuildTypeDirectory && Arch.KataNames.All(a => a != d))
            .Select(d => VariantDirectories.FirstOrDefault(kv => kv.Value == d).Key ?? d)
            .Order(StringComparer.Ordinal);
}
