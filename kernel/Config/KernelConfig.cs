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
    private readonly string[] _lines;

    private KernelConfig(Dictionary<string, string> values, string[] lines, string? path)
    {
        _values = values;
        _lines = lines;
        Path = path;
    }

    /// <summary>The file this config was read from, when it came from one.</summary>
    public string? Path { get; }
    public IReadOnlyDictionary<string, string> Values => _values;

    /// <summary>The value as written (strings keep their quotes), or null when the option is not in the file.</summary>
    public string? Get(string symbol) => _values.GetValueOrDefault(symbol);

    /// <summary>Whether the option is y or m.</summary>
    public bool IsEnabled(string symbol) => Get(symbol) is "y" or "m";

    /// <summary>
    /// The lines naming <c>CONFIG_&lt;symbol&gt;</c> as a whole word, joined by newlines: what merge_config.sh's
    /// <c>grep -w</c> prints, comments included. Its check compares exactly this between the merged fragments
    /// and the final .config, so "holds" means the same text, not just the same value.
    /// </summary>
    public string LinesNaming(string symbol)
    {
        var word = ConfigValues.Prefix + symbol;
        return string.Join('\n', _lines.Where(line => ContainsWord(line, word)));
    }

    /// <summary>grep -w: an occurrence with no word character (letter, digit, underscore) right before or after it.</summary>
    private static bool ContainsWord(string line, string word)
    {
        for (var at = line.IndexOf(word, StringComparison.Ordinal); at >= 0; at = line.IndexOf(word, at + 1, StringComparison.Ordinal))
        {
            var end = at + word.Length;
            if ((at == 0 || !IsWordCharacter(line[at - 1])) && (end == line.Length || !IsWordCharacter(line[end]))) return true;
        }
        return false;
    }

    private static bool IsWordCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

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
        // Lines as grep sees them: split on newlines only, a trailing newline ends the last line.
        var lines = text.EndsWith('\n') ? text[..^1].Split('\n') : text.Split('\n');
        foreach (var raw in lines)
        {
            var line = raw.TrimEnd('\r');
            if (AssignmentRegex().Match(line) is { Success: true } assignment)
                values[assignment.Groups[1].Value] = assignment.Groups[2].Value;
            else if (NotSetRegex().Match(line) is { Success: true } notSet)
                values[notSet.Groups[1].Value] = "n";
        }
        return new KernelConfig(values, lines, path);
    }
}
