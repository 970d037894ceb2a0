using System.Text.RegularExpressions;

namespace Kiln.Kernel.Bisect;

/// <summary>One "# good: [sha] subject" style line of <c>git bisect log</c>.</summary>
public sealed record BisectLogEntry(string Kind, string Sha, string Subject);

/// <summary>
/// The parsed <c>git bisect log</c>: the marks given (good, bad, skip) and, when git got that far, the
/// first bad commit or the candidates it could not tell apart because of skipped commits.
/// </summary>
public sealed partial class BisectLog
{
    private BisectLog(IReadOnlyList<string> lines, IReadOnlyList<BisectLogEntry> entries)
    {
        Lines = lines;
        Entries = entries;
    }

    public IReadOnlyList<string> Lines { get; }
    public IReadOnlyList<BisectLogEntry> Entries { get; }

    /// <summary>Every good/bad/skip mark, in order (the first two are the range's ends).</summary>
    public IEnumerable<BisectLogEntry> Marks => Entries.Where(e => e.Kind is "good" or "bad" or "skip");

    public BisectLogEntry? FirstBad => Entries.FirstOrDefault(e => e.Kind == "first bad commit");

    /// <summary>Set when only skipped commits were left: the first bad commit is one of these.</summary>
    public IReadOnlyList<BisectLogEntry> PossibleFirstBad => Entries.Where(e => e.Kind == "possible first bad commit").ToList();

    public static BisectLog Parse(string text)
    {
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        var entries = new List<BisectLogEntry>();
        foreach (var line in lines)
        {
            var m = EntryLine().Match(line);
            if (m.Success) entries.Add(new BisectLogEntry(m.Groups["kind"].Value, m.Groups["sha"].Value, m.Groups["subject"].Value.Trim()));
        }
        return new BisectLog(lines, entries);
    }

    [GeneratedRegex(@"^# (?<kind>good|bad|skip|first bad commit|possible first bad commit): \[(?<sha>[0-9a-f]{40,64})\](?<subject>.*)$")]
    private static partial Regex EntryLine();
}
