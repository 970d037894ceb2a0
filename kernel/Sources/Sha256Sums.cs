using System.Text.RegularExpressions;

namespace Kiln.Kernel.Sources;

/// <summary>kernel.org's sha256sums.asc: a clear-signed list of "&lt;sha256&gt;  &lt;file&gt;" lines.</summary>
public static class Sha256Sums
{
    private static readonly Regex Line = new(@"^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$", RegexOptions.Compiled);

    public static string? Find(string text, string fileName)
    {
        foreach (var raw in text.Split('\n'))
        {
            var m = Line.Match(raw.TrimEnd('\r'));
            if (m.Success && m.Groups[2].Value == fileName) return m.Groups[1].Value.ToLowerInvariant();
        }
        return null;
    }
}
