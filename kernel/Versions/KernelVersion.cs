using System.Text.RegularExpressions;

namespace Kiln.Kernel.Versions;

/// <summary>A kernel release (6.1.192) or series (6.1).</summary>
public sealed record KernelVersion(int Major, int Minor, int? Sublevel)
{
    private static readonly Regex Pattern = new(@"^(\d+)\.(\d+)(?:\.(\d+))?$", RegexOptions.Compiled);

    public string SeriesName => $"{Major}.{Minor}";

    public static bool TryParse(string? text, out KernelVersion version)
    {
        version = null!;
        var m = Pattern.Match(text ?? "");
        if (!m.Success) return false;
        version = new KernelVersion(int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value),
            m.Groups[3].Success ? int.Parse(m.Groups[3].Value) : null);
        return true;
    }

    public override string ToString() => Sublevel is null ? SeriesName : $"{SeriesName}.{Sublevel}";
}
