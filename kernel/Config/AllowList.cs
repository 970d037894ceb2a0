using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Config;

/// <summary>
/// Options that may be missing from the final .config without failing the build
/// (<c>configs/allow-dropped.conf</c>): one <c>CONFIG_X  # reason</c> per line. The reason is required,
/// because an allowed drop is a decision someone has to be able to revisit.
/// </summary>
public sealed partial class AllowList
{
    private readonly Dictionary<string, string> _reasons;

    private AllowList(Dictionary<string, string> reasons, string? path)
    {
        _reasons = reasons;
        Path = path;
    }

    public static AllowList Empty { get; } = new(new Dictionary<string, string>(), null);

    public string? Path { get; }
    /// <summary>Symbol (without CONFIG_) to the reason it may drop.</summary>
    public IReadOnlyDictionary<string, string> Entries => _reasons;

    public bool TryGetReason(string symbol, out string reason) => _reasons.TryGetValue(symbol, out reason!);

    [GeneratedRegex(@"^CONFIG_([A-Za-z0-9_]+)\s*(?:#\s*(.*))?$")]
    private static partial Regex EntryRegex();

    /// <summary>Loads the list; a missing file is an empty list, since most trees need no exceptions.</summary>
    public static AllowList Load(string path) =>
        File.Exists(path) ? Parse(File.ReadAllText(path), path) : new AllowList(new Dictionary<string, string>(), path);

    public static AllowList Parse(string text, string path)
    {
        var reasons = new Dictionary<string, string>(StringComparer.Ordinal);
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
            reasons[entry.Groups[1].Value] = reason;
        }
        return new AllowList(reasons, path);
    }
}
