namespace Kiln.Kernel.Config;

/// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions cost 1.</summary>
public static class EditDistance
{
    /// <summary>The distance, or any value above <paramref name="limit"/> once it is certain to exceed it (keeps scans of 20k names fast).</summary>
    public static int Compute(string a, string b, int limit = int.MaxValue)
    {
        if (Math.Abs(a.Length - b.Length) > limit) return limit + 1;
        var previous2 = new int[b.Length + 1];
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            var rowMinimum = current[0];
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                var value = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    value = Math.Min(value, previous2[j - 2] + 1);
                current[j] = value;
                rowMinimum = Math.Min(rowMinimum, value);
            }
            if (rowMinimum > limit) return limit + 1;
            (previous2, previous, current) = (previous, current, previous2);
        }
        return previous[b.Length];
    }
}
