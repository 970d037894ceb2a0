using System.Text.RegularExpressions;
using Kiln.Kernel.Parsing;

namespace Kiln.Kernel.Analysis;

public enum Severity { Check, Warning, Error }

/// <summary>One thing a checker said, where it said it.</summary>
public sealed record Finding(string Tool, Severity Severity, string File, int Line, string Type, string Message)
{
    public override string ToString() => $"{Tool} {Severity.ToString().ToUpperInvariant()}{(Type.Length > 0 ? ":" + Type : "")} {File}:{Line}: {Message}";
}

/// <summary>What the analysis found for one patch of the series.</summary>
public sealed record PatchFindings(string Patch, IReadOnlyList<Finding> Findings)
{
    public int Errors => Findings.Count(f => f.Severity == Severity.Error);
    public int Warnings => Findings.Count(f => f.Severity == Severity.Warning);
}

/// <summary>The lines a patch adds, by file, numbered as in the patched file (the new side of each hunk).</summary>
public static partial class PatchAdditions
{
    [GeneratedRegex(@"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")]
    private static partial Regex HunkHeader();

    public static IReadOnlyDictionary<string, IReadOnlySet<int>> Read(string patchPath)
    {
        var result = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
        HashSet<int>? current = null;
        int newLine = 0, remaining = 0;
        foreach (var line in File.ReadLines(patchPath))
        {
            if (remaining > 0 && current is not null)
            {
                if (line.StartsWith('\\')) continue; // "\ No newline at end of file"
                var kind = line.Length == 0 ? ' ' : line[0];
                if (kind == '+') current.Add(newLine);
                if (kind is '+' or ' ')
                {
                    newLine++;
                    remaining--;
                }
                continue;
            }
            if (line.StartsWith("+++ ", StringComparison.Ordinal))
            {
                var path = line[4..].Split('\t')[0].Trim();
                current = path == "/dev/null" ? null : GetOrAdd(result, path.StartsWith("b/", StringComparison.Ordinal) ? path[2..] : path);
            }
            else if (HunkHeader().Match(line) is { Success: true } hunk)
            {
                // Patch text is the user's: a number that overflows ends the hunk rather than the analysis.
                newLine = WholeNumber.Parse(hunk.Groups[1].Value) ?? 0;
                remaining = hunk.Groups[2].Success ? WholeNumber.Parse(hunk.Groups[2].Value) ?? 0 : 1;
            }
        }
        return result.ToDictionary(p => p.Key, p => (IReadOnlySet<int>)p.Value, StringComparer.Ordinal);
    }

    private static HashSet<int> GetOrAdd(Dictionary<string, HashSet<int>> map, string key) =>
        map.TryGetValue(key, out var set) ? set : map[key] = new HashSet<int>();
}
