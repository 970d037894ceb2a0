namespace Kiln.Kernel.Bisect;

/// <summary>How many builds a bisect may take: git bisect halves the range, so ceil(log2 N) plus one of slack.</summary>
public static class BisectBound
{
    /// <summary>Builds that decide (good or bad) for <paramref name="commits"/> commits in good..bad; skips come on top.</summary>
    public static int MaxDecidingSteps(int commits)
    {
        if (commits < 1) throw new ArgumentOutOfRangeException(nameof(commits), commits, "a bisect range holds at least one commit");
        var log2 = 0;
        while ((1L << log2) < commits) log2++;
        return log2 + 1;
    }

    /// <summary>True when the steps taken stay within the bound: deciding steps plus skipped ones.</summary>
    public static bool Holds(int commits, IReadOnlyCollection<StepRecord> steps) =>
        steps.Count(s => s.Verdict is StepVerdict.Good or StepVerdict.Bad) <= MaxDecidingSteps(commits);
}
