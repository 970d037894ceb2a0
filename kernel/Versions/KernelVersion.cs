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
        // \d+ also matches numbers too large for an int: those are not versions either (no OverflowException).
        static bool Number(Group g, out int n) => int.TryParse(g.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out n);
        if (!Number(m.Groups[1], out var major) || !Number(m.Groups[2], out var minor)) return false;
        int? sublevel = null;
        if (m.Groups[3].Success)
        {
            if (!Number(m.Groups[3], out var s)) return false;
            sublevel = s;
        }
        version = new KernelVersion(major, minor, sublevel);
        return true;
    }

    public override string ToString() => Sublevel is null ? SeriesName : $"{SeriesName}.{Sublevel}";
}
