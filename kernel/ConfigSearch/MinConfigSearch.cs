using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.ConfigSearch;

public enum MinConfigStatus
{
    /// <summary>Every option still on was tried: the test needs it, or Kconfig keeps it on.</summary>
    Converged,
    /// <summary>--max-steps builds ran; the next run resumes from the state.</summary>
    StepLimit,
    /// <summary>The starting config does not pass: there is nothing to shrink.</summary>
    StartFails,
}

/// <summary>Where a MinConfig run stopped: its status, the state (best config so far and what is left), this run's builds.</summary>
public sealed record MinConfigOutcome(MinConfigStatus Status, MinConfigState State, int BuildsThisRun, bool Resumed)
{
    public OptionSet Best => new(State.Best);

    /// <summary>
    /// The best config so far as a fragment Configure takes (--base-config=FILE, or in configs/fragments/ with an allnoconfig
    /// or tinyconfig base, where every option it leaves out is off): the options it sets, nothing else. Its comments
    /// name no option, since merge_config.sh's check compares every line naming one.
    /// </summary>
    /// <param name="kernel">What it is for, e.g. "Linux 6.1.192 x86_64".</param>
    public string Fragment(string kernel)
    {
        var text = new System.Text.StringBuilder();
        text.Append($"# Kiln MinConfig for {kernel}: {Best.Enabled.Count} options on, from {State.StartEnabled}\n");
        text.Append(State.Converged
            ? $"# converged after {State.Steps.Count} builds\n"
            : $"# best so far after {State.Steps.Count} builds; the search has not converged\n");
        foreach (var (symbol, value) in Best.Values.Where(v => v.Value != "n")) text.Append(Config.ConfigValues.Format(symbol, value)).Append('\n');
        return text.ToString();
    }
}

/// <summary>
/// ktest's make_min_config, delta-debugging style: try turning a group of options off, let make olddefconfig make the
/// config consistent, and keep the result when it still builds and passes; a group that fails is split in two and each
/// half tried, down to single options, which the test then needs. A group make olddefconfig refuses to turn off costs
/// no build. The state is saved after every step, so a run stopped by --max-steps or an interrupt resumes.
/// </summary>
public sealed class MinConfigSearch(IConfigTrials trials, string statePath, IKilnLog log)
{
    /// <param name="start">The normalized starting config.</param>
    /// <param name="tunable">Options a user can turn off (they have a prompt); the others follow what selects them.</param>
    /// <param name="key">Names the search (tree, arch, start config, tests); only a state with this key is resumed.</param>
    /// <param name="maxSteps">Builds this run may make; null runs to the end.</param>
    public MinConfigOutcome Run(OptionSet start, IReadOnlySet<string> tunable, string key, int? maxSteps)
    {
        var state = MinConfigState.Load(statePath, key, log);
        var resumed = state is not null;
        if (state is null)
        {
            var candidates = start.Enabled.Where(tunable.Contains).ToList();
            state = new MinConfigState
            {
                Key = key,
                StartEnabled = start.Enabled.Count,
                Best = new(start.Values),
                Queue = Halves(candidates).ToList(),
            };
            state.Save(statePath);
            log.Info($"MinConfig: {start.Enabled.Count} options on, {candidates.Count} of them can be turned off by hand; state in {statePath}");
        }
        else
        {
            log.Info($"MinConfig: resuming from {statePath} after {state.Steps.Count} builds: best so far {state.Best.Count(v => v.Value is "y" or "m")} options on " +
                     $"(from {state.StartEnabled}), {state.Queue.Sum(g => g.Count)} options in {state.Queue.Count} groups left to try");
        }

        var builds = 0;
        bool MayBuild() => maxSteps is not { } limit || builds < limit;
        if (!state.StartPassed)
        {
            if (!MayBuild()) return new(MinConfigStatus.StepLimit, state, builds, resumed);
            var first = Build(state, "check the starting config", [], [], start);
            builds++;
            if (first.Verdict != StepVerdict.Good)
            {
                state = state with { Steps = [.. state.Steps, first] };
                state.Save(statePath);
                return new(MinConfigStatus.StartFails, state, builds, resumed);
            }
            state = state with { StartPassed = true, Steps = [.. state.Steps, first] };
            state.Save(statePath);
        }

        while (state.Queue.Count > 0)
        {
            var best = new OptionSet(state.Best);
            var group = state.Queue[0].Where(best.IsEnabled).ToList();
            var queue = state.Queue.Skip(1).ToList();
            if (group.Count == 0)
            {
                // Earlier steps turned these off with what selected them.
                state = state with { Queue = queue };
                state.Save(statePath);
                continue;
            }
            var made = trials.Normalize(best.Without(group));
            var moved = best.ChangesTo(made);
            if (moved.Count == 0)
            {
                log.Info($"MinConfig: make olddefconfig keeps {Names(group)} on (selected or without a prompt): not tried");
                state = state with { Queue = queue, Forced = [.. state.Forced, .. group] };
                state.Save(statePath);
                continue;
            }
            if (!MayBuild()) return new(MinConfigStatus.StepLimit, state, builds, resumed);
            var step = Build(state, $"turn off {group.Count}", group, moved, made);
            builds++;
            if (step.Verdict == StepVerdict.Good)
            {
                // What stayed on was kept by something still on: tried again at the end, after that may have gone.
                var stayed = group.Where(made.IsEnabled).ToList();
                var forced = state.Forced;
                if (stayed.Count > 0 && queue.Count == 0) forced = [.. forced, .. stayed];
                else if (stayed.Count > 0) queue.Add(stayed);
                state = state with { Best = new(made.Values), Queue = queue, Forced = forced, Steps = [.. state.Steps, step] };
            }
            else if (group.Count == 1)
            {
                state = state with { Queue = queue, Required = [.. state.Required, group[0]], Steps = [.. state.Steps, step] };
            }
            else
            {
                state = state with { Queue = [.. Halves(group), .. queue], Steps = [.. state.Steps, step] };
            }
            state.Save(statePath);
            log.Info($"MinConfig: best so far {state.Best.Count(v => v.Value is "y" or "m")} options on (from {state.StartEnabled}); " +
                     $"{state.Queue.Sum(g => g.Count)} options in {state.Queue.Count} groups left to try");
        }
        return new(MinConfigStatus.Converged, state, builds, resumed);
    }

    private SearchStep Build(MinConfigState state, string action, IReadOnlyList<string> applied, IReadOnlyList<OptionChange> moved, OptionSet config)
    {
        var number = state.Steps.Count + 1;
        log.Info($"MinConfig build {number}: {action}" + (moved.Count == 0 ? "" : $" ({Names(applied)}), {moved.Count} options moved"));
        var result = trials.Test(config, number);
        log.Info($"MinConfig build {number} is {result.Verdict.ToString().ToLowerInvariant()} ({result.TotalSeconds:F0} s): {result.Message}");
        return new SearchStep(number, action, applied, moved, result.Verdict, result.Message, config.Enabled.Count,
            result.BuildSeconds, result.BootSeconds, result.TotalSeconds, result.Directory);
    }

    private static IEnumerable<List<string>> Halves(IReadOnlyList<string> group)
    {
        if (group.Count == 0) yield break;
        var middle = (group.Count + 1) / 2;
        yield return group.Take(middle).ToList();
        if (group.Count > 1) yield return group.Skip(middle).ToList();
    }

    private static string Names(IReadOnlyList<string> symbols, int max = 4) =>
        string.Join(", ", symbols.Take(max)) + (symbols.Count > max ? $" and {symbols.Count - max} more" : "");
}
