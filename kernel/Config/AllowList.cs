using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Config;

/// <summary>
/// One line that lets options drop. Kiln's own lines name one symbol with a reason; Kata's whitelist lines are
/// <c>grep -v -f</c> patterns, so <c>CONFIG_X</c> also matches <c>CONFIG_XY</c>, and an empty line matches everything.
/// </summary>
public sealed record AllowEntry(string Pattern, string Reason, SourceLocation Location, bool IsKataPattern)
{
    public bool Matches(string symbol) =>
        IsKataPattern ? (ConfigValues.Prefix + symbol).Contains(Pattern, StringComparison.Ordinal) : symbol == Pattern;

    /// <summary>Why this entry lets <paramref name="symbol"/> drop, naming the line.</summary>
    public string Explain(string symbol)
    {
        if (!IsKataPattern) return Reason;
        if (Pattern.Length == 0)
            return $"{Location} is an empty line, which Kata's grep -v -f reads as a pattern matching every option";
        return Pattern == ConfigValues.Prefix + symbol
            ? $"{Reason} ({Location})"
            : $"{Reason} as {Pattern} ({Location}), which Kata's grep also matches inside {ConfigValues.Prefix}{symbol}";
    }
}

/// <summary>
/// Options that may be missing from the final .config without failing the build: Kiln's
/// <c>configs/allow-dropped.conf</c> (one <c>CONFIG_X  # reason</c> per line; the reason is required, because an
/// allowed drop is a decision someone has to be able to revisit) and, for a Kata configs tree, Kata's
/// <c>fragments/whitelist.conf</c> and <c>fragments/whitelist-&lt;kernel version&gt;.conf</c>, read as build-kernel.sh reads them.
/// </summary>
public sealed partial class AllowList
{
    public const string KataWhitelist = "whitelist.conf";

    private AllowList(IReadOnlyList<AllowEntry> entries, IReadOnlyList<string> sources, IReadOnlyList<string> warnings)
    {
        Entries = entries;
        Sources = sources;
        Warnings = warnings;
    }

    public static AllowList Empty { get; } = new(Array.Empty<AllowEntry>(), Array.Empty<string>(), Array.Empty<string>());

    public IReadOnlyList<AllowEntry> Entries { get; }
    /// <summary>The files read, for messages.</summary>
    public IReadOnlyList<string> Sources { get; }
    /// <summary>Lines that make the list allow more than it seems to (an empty line in a Kata whitelist).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The files, comma-separated, or null when there are none.</summary>
    public string? Path => Sources.Count == 0 ? null : string.Join(", ", Sources);

    /// <summary>The first entry that lets the symbol drop: Kiln's own lines before Kata's patterns.</summary>
    public bool TryGetReason(string symbol, out string reason)
    {
        var entry = Entries.FirstOrDefault(e => !e.IsKataPattern && e.Matches(symbol)) ?? Entries.FirstOrDefault(e => e.Matches(symbol));
        reason = entry?.Explain(symbol) ?? "";
        return entry is not null;
    }

    [GeneratedRegex(@"^CONFIG_([A-Za-z0-9_]+)\s*(?:#\s*(.*))?$")]
    private static partial Regex EntryRegex();

    [GeneratedRegex(@"^CONFIG_[A-Za-z0-9_]+$")]
    private static partial Regex KataEntryRegex();

    /// <summary>
    /// Everything that may drop for a configs tree: <c>allow-dropped.conf</c>, and Kata's whitelists under
    /// <c>fragments/</c> when they exist (the versioned one for <paramref name="kernelVersion"/> as build-kernel.sh names it).
    /// </summary>
    public static AllowList ForConfigs(string configsRoot, string kernelVersion)
    {
        var lists = new List<AllowList> { Load(System.IO.Path.Combine(configsRoot, "allow-dropped.conf")) };
        var whitelist = System.IO.Path.Combine(configsRoot, "fragments", KataWhitelist);
        if (File.Exists(whitelist)) lists.Add(LoadKataWhitelist(whitelist));
        var versioned = System.IO.Path.Combine(configsRoot, "fragments", $"whitelist-{kernelVersion}.conf");
        if (File.Exists(versioned)) lists.Add(LoadKataWhitelist(versioned));
        return Combine(lists);
    }

    public static AllowList Combine(IEnumerable<AllowList> lists)
    {
        var all = lists.ToList();
        return new AllowList(all.SelectMany(l => l.Entries).ToList(), all.SelectMany(l => l.Sources).ToList(), all.SelectMany(l => l.Warnings).ToList());
    }

    /// <summary>Loads the list; a missing file is an empty list, since most trees need no exceptions.</summary>
    public static AllowList Load(string path) => File.Exists(path) ? Parse(Read(path), path) : Empty;

    public static AllowList Parse(string text, string path)
    {
        var entries = new List<AllowEntry>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var location = new SourceLocation(path, i + 1);
            if (EntryRegex().Match(line) is not { Success: true } entry)
                throw KilnException.BadInput($"{location}: expected 'CONFIG_NAME  # reason', got '{line}'.");
            var reason = entry.Groups[2].Value.Trim();
            if (reason.Length == 0)
                throw KilnException.BadInput($"{location}: CONFIG_{entry.Groups[1].Value} needs a '# reason' saying why it may drop.");
            entries.Add(new AllowEntry(entry.Groups[1].Value, reason, location, IsKataPattern: false));
        }
        return new AllowList(entries, new[] { path }, Array.Empty<string>());
    }

    public static AllowList LoadKataWhitelist(string path) => ParseKataWhitelist(Read(path), path);

    /// <summary>
    /// Reads a Kata whitelist: bare <c>CONFIG_X</c> lines and <c># comments</c>. build-kernel.sh hands the file to
    /// <c>grep -v -f</c>, so an entry matches every option whose name contains it, and an empty line (other than the
    /// file's final newline) matches every option; Kiln keeps both behaviours so the verdict is Kata's, and warns.
    /// </summary>
    public static AllowList ParseKataWhitelist(string text, string path)
    {
        var entries = new List<AllowEntry>();
        var warnings = new List<string>();
        var name = System.IO.Path.GetFileName(path);
        var lines = text.EndsWith('\n') ? text[..^1].Split('\n') : text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var location = new SourceLocation(path, i + 1);
            if (line.StartsWith('#')) continue;
            if (line.Length == 0)
            {
                if (text.Length == 0) continue;
                entries.Add(new AllowEntry("", $"an empty line in {name}", location, IsKataPattern: true));
                warnings.Add($"{location} is an empty line: Kata's build-kernel.sh reads {name} with grep -v -f, where an empty line matches " +
                             "every option, so every dropped option passes its check. Kiln gives the same verdict and still explains each drop; " +
                             "delete the line to make the whitelist check again.");
                continue;
            }
            if (!KataEntryRegex().IsMatch(line))
                throw KilnException.BadInput($"{location}: expected a bare CONFIG_NAME (or a # comment), got '{line}': " +
                                             "build-kernel.sh matches each line as a grep pattern, so anything else would not allow what it seems to.");
            entries.Add(new AllowEntry(line, $"listed in {name}", location, IsKataPattern: true));
        }
        return new AllowList(entries, new[] { path }, warnings);
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw KilnException.BadInput($"Cannot read {path}: {e.Message}");
        }
    }
}
