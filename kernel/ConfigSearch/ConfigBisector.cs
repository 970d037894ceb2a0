using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.ConfigSearch;

public enum ConfigBisectStatus
{
    /// <summary>One option (or a set Kconfig only moves together) turns good into bad.</summary>
    Found,
    /// <summary>The good config does not pass: nothing to bisect.</summary>
    GoodFails,
    /// <summary>The bad config passes (or does not build): nothing to bisect.</summary>
    BadPasses,
}

/// <summary>A finished config bisect: the culprit options (good → bad values), every build, and the bound they kept.</summary>
public sealed record ConfigBisectOutcome(
    ConfigBisectStatus Status,
    IReadOnlyList<OptionChange> Initial,
    IReadOnlyList<OptionChange> Culprits,
    IReadOnlyList<SearchStep> Steps,
    OptionSet Good,
    OptionSet Bad,
    string? Problem)
{
    public int Builds => Steps.Count;
    /// <summary>Both ends checked, then one build per halving: ceil(log2 D) + 2 for D differing options.</summary>
    public int MaxBuilds => MaxBuildsFor(Initial.Count);
    public bool WithinBound => Builds <= MaxBuilds;

    public static int MaxBuildsFor(int differences)
    {
        var log2 = 0;
        while ((1L << log2) < differences) log2++;
        return log2 + 2;
    }
}

/// <summary>
/// ktest's config bisect: checks that good passes and bad fails, then moves half of the differing options of the
/// current good config to their bad values, lets make olddefconfig make that consistent, and builds what it made:
/// a pass is the new good, a fail the new bad. The options that actually moved (dependencies pull some in and refuse
/// others) are what counts, so the search ends at the one option, or the set Kconfig moves together, that breaks it.
/// </summary>
public sealed class ConfigBisector(IConfigTrials trials, IKilnLog log)
{
    private readonly List<SearchStep> _steps = [];

    /// <param name="good">Normalized (make olddefconfig) already, as is <paramref name="bad"/>; they differ.</param>
    public ConfigBisectOutcome Run(OptionSet good, OptionSet bad)
    {
        var initial = good.ChangesTo(bad);
        log.Info($"ConfigBisect: {initial.Count} options differ between the good and the bad config; at most {ConfigBisectOutcome.MaxBuildsFor(initial.Count)} builds");
        var checkGood = Build("check good config", [], [], good);
        if (checkGood.Verdict != StepVerdict.Good)
            return new(ConfigBisectStatus.GoodFails, initial, [], _steps, good, bad,
                $"the good config does not pass (build 1, {checkGood.Verdict.ToString().ToLowerInvariant()}): {checkGood.Message}");
        var checkBad = Build("check bad config", [], initial, bad);
        if (checkBad.Verdict != StepVerdict.Bad)
            return new(ConfigBisectStatus.BadPasses, initial, [], _steps, good, bad, checkBad.Verdict == StepVerdict.Good
                ? $"the bad config passes (build 2): {checkBad.Message}"
                : $"the bad config does not build (build 2), so it cannot show what breaks the boot: {checkBad.Message}");

        while (good.ChangesTo(bad) is { Count: > 1 } differing)
        {
            if (Halve(differing, ref good, ref bad)) continue;
            log.Info($"ConfigBisect: no half of the {differing.Count} remaining options can move alone (Kconfig moves them together or they do not build apart)");
            return new(ConfigBisectStatus.Found, initial, differing, _steps, good, bad, null);
        }
        return new(ConfigBisectStatus.Found, initial, good.ChangesTo(bad), _steps, good, bad, null);
    }

    /// <summary>
    /// Tries each half of the differing options on the good config, then (when Kconfig refuses both or they do not
    /// build) quarters and so on down to single options; true when a build narrowed the range. Only a config that moves
    /// some but not all of the differing options is built: the others say nothing new.
    /// </summary>
    private bool Halve(IReadOnlyList<OptionChange> differing, ref OptionSet good, ref OptionSet bad)
    {
        var symbols = differing.Select(c => c.Symbol).ToList();
        for (var parts = 2; ; parts *= 2)
        {
            var size = (symbols.Count + parts - 1) / parts;
            foreach (var part in symbols.Chunk(size))
            {
                var made = trials.Normalize(good.With(part, bad));
                var moved = good.ChangesTo(made);
                if (moved.Count == 0 || made.SameAs(bad))
                {
                    log.Info($"ConfigBisect: applying {string.Join(", ", part.Take(6))}{(part.Length > 6 ? $" and {part.Length - 6} more" : "")} " +
                             (moved.Count == 0 ? "moves nothing after make olddefconfig" : "moves every remaining option with it"));
                    continue;
                }
                var step = Build($"apply {part.Length} of {differing.Count}", part, moved, made);
                if (step.Verdict == StepVerdict.Good && made.ChangesTo(bad).Count < differing.Count)
                {
                    good = made;
                    return true;
                }
                if (step.Verdict == StepVerdict.Bad && moved.Count < differing.Count)
                {
                    bad = made;
                    return true;
                }
            }
            if (size == 1) return false;
        }
    }

    private SearchStep Build(string action, IReadOnlyList<string> applied, IReadOnlyList<OptionChange> moved, OptionSet config)
    {
        var number = _steps.Count + 1;
        log.Info($"ConfigBisect build {number}: {action}" + (moved.Count == 0 ? "" : $", {moved.Count} options moved: {Summary(moved)}"));
        var result = trials.Test(config, number);
        var step = new SearchStep(number, action, applied, moved, result.Verdict, result.Message, config.Enabled.Count,
            result.BuildSeconds, result.BootSeconds, result.TotalSeconds, result.Directory);
        _steps.Add(step);
        log.Info($"ConfigBisect build {number} is {result.Verdict.ToString().ToLowerInvariant()} ({result.TotalSeconds:F0} s): {result.Message}");
        return step;
    }

    internal static string Summary(IReadOnlyList<OptionChange> changes, int max = 6) =>
        string.Join(", ", changes.Take(max)) + (changes.Count > max ? $" and {changes.Count - max} more" : "");
}
