using Kiln.Kernel.Analysis;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Boot;
using Kiln.Kernel.ConfigSearch;
using Spectre.Console;

namespace Kiln.Build;

/// <summary>How a stage's result reads on the terminal: the tables and summaries tasks print through <see cref="KilnOutput"/>.</summary>
public static class Reports
{
    public static void Boot(BootTestResult result, KilnOutput output)
    {
        var table = new Table().AddColumn("Check").AddColumn("Result").AddColumn(new TableColumn("Time").RightAligned()).AddColumn("Detail");
        foreach (var check in result.Checks)
            table.AddRow(Markup.Escape(check.Name), check.Status switch
                {
                    CheckStatus.Pass => "[green]pass[/]",
                    CheckStatus.Fail => "[red]FAIL[/]",
                    var other => $"[yellow]{BootResultWriter.StatusName(other)}[/]",
                },
                $"{check.Duration.TotalSeconds:F1} s", Markup.Escape(check.Message));
        output.Write(table);
        output.Info($"Machine: {result.Machine}");
        if (result.NotExercised.Count > 0)
            output.Info($"Compiled, not exercised (no check saw them work in this boot): {string.Join(", ", result.NotExercised)}");
        var bootTime = result.Log.SecondsToInit is { } init ? $"; kernel reached init {init:F2} s after start (printk time)" : "";
        output.Info($"Results: {result.ResultsJsonPath}, {result.JUnitPath}, serial log {result.SerialLogPath}{bootTime}");
    }

    public static void Bisect(BisectOutcome outcome, KilnOutput output)
    {
        var table = new Table()
            .AddColumn(new TableColumn("#").RightAligned()).AddColumn("Role").AddColumn("Commit").AddColumn("Subject").AddColumn("Verdict")
            .AddColumn(new TableColumn("Exit").RightAligned()).AddColumn(new TableColumn("Configure").RightAligned())
            .AddColumn(new TableColumn("Build").RightAligned()).AddColumn(new TableColumn("Boot").RightAligned())
            .AddColumn(new TableColumn("Total").RightAligned()).AddColumn(new TableColumn("Overhead").RightAligned());
        foreach (var s in outcome.Steps)
        {
            var verdict = Verdict(s.Verdict) + (s.Boots > 1 ? $" {s.Passes}/{s.Boots}" + (s.Flaky ? " [yellow]flaky[/]" : "") : "");
            var role = s.Role switch
            {
                StepRole.BadEnd => "bad end",
                StepRole.GoodEnd => "good end",
                StepRole.Revert => "revert",
                _ => "bisect",
            };
            table.AddRow(s.Number.ToString(), role, s.ShortSha, Markup.Escape(s.Subject), verdict, s.ExitCode.ToString(),
                $"{s.ConfigureSeconds:F0} s", $"{s.BuildSeconds:F0} s", $"{s.BootSeconds:F0} s", $"{s.TotalSeconds:F0} s", $"{s.OverheadSeconds:F1} s");
        }
        output.Write(table);
        // Details below the table: a build error or a failed check does not fit a column.
        foreach (var s in outcome.Steps) output.Line($"  {s.Number}. {s.ShortSha}: {FirstLine(s.Message)}");
        output.Line($"{outcome.Steps.Count} step(s) (both ends, the bisect, the revert check), {outcome.Skipped} skipped, {outcome.Flaky} flaky, " +
                    $"{outcome.Boots} boot(s) per step, for {outcome.Range.Commits} commit(s) " +
                    $"(bisect bound: {outcome.MaxDecidingSteps} deciding builds plus skips{(outcome.WithinBound ? "" : " — EXCEEDED")}) " +
                    $"in {outcome.Duration:hh\\:mm\\:ss}");
        if (outcome.Status == BisectStatus.Found)
            output.Line($"Revert check: {outcome.Confirmation.Label}: {outcome.Confirmation.Message}");
        output.Line($"Worktree {(outcome.WorktreeReused ? "reused" : "added")} in {outcome.WorktreeSeconds:F1} s; per-step overhead " +
                    $"(everything but make and QEMU) at most {outcome.MaxOverheadSeconds:F1} s");
        output.Line("git bisect log:");
        foreach (var line in outcome.Log) output.Line("  " + line);
    }

    public static void ConfigBisect(ConfigBisectResult result, KilnOutput output)
    {
        var outcome = result.Outcome;
        SearchSteps(outcome.Steps, output);
        output.Line($"{outcome.Builds} build(s) for {outcome.Initial.Count} differing option(s) " +
                    $"(bound: ceil(log2 {outcome.Initial.Count})+2 = {outcome.MaxBuilds}{(outcome.WithinBound ? "" : " — EXCEEDED")}) " +
                    $"in {TimeSpan.FromSeconds(outcome.Steps.Sum(s => s.TotalSeconds)):hh\\:mm\\:ss}");
        if (outcome.Status != ConfigBisectStatus.Found) return;
        output.Line(result.Culprits.Count == 1
            ? "The option whose change breaks it:"
            : $"These {result.Culprits.Count} options break it together (Kconfig moves them as one, or they do not build apart):");
        foreach (var culprit in result.Culprits)
        {
            output.Line($"  {culprit.Change}");
            foreach (var line in culprit.Kconfig) output.Line("    " + line);
            foreach (var line in culprit.Help.Take(6)) output.Line("    | " + line);
        }
        output.Line($"Last good config: {result.LastGoodConfig}; first bad: {result.FirstBadConfig}");
    }

    public static void MinConfig(MinConfigResult result, KilnOutput output)
    {
        var outcome = result.Outcome;
        var state = outcome.State;
        SearchSteps(state.Steps, output);
        var status = outcome.Status switch
        {
            MinConfigStatus.Converged => "converged",
            MinConfigStatus.StepLimit => $"stopped at --max-steps; {state.Queue.Sum(g => g.Count)} options left to try (run again to resume)",
            _ => "the starting config does not pass",
        };
        output.Line($"MinConfig: {state.StartEnabled} options on at the start, {outcome.Best.Enabled.Count} in the best config so far; " +
                    $"{state.Steps.Count} build(s) in all, {outcome.BuildsThisRun} in this run{(outcome.Resumed ? " (resumed)" : "")}: {status}");
        if (state.Required.Count > 0) output.Line($"Needed by the test (turning it off alone fails): {string.Join(", ", state.Required)}");
        if (state.Forced.Count > 0) output.Line($"Kept on by Kconfig (selected, or no prompt): {string.Join(", ", state.Forced)}");
    }

    /// <summary>A config search's builds: what each applied, how many options moved after make olddefconfig, its verdict and times.</summary>
    private static void SearchSteps(IReadOnlyList<SearchStep> steps, KilnOutput output)
    {
        var table = new Table()
            .AddColumn(new TableColumn("#").RightAligned()).AddColumn("Build").AddColumn(new TableColumn("Moved").RightAligned())
            .AddColumn(new TableColumn("On").RightAligned()).AddColumn("Verdict")
            .AddColumn(new TableColumn("Build").RightAligned()).AddColumn(new TableColumn("Boot").RightAligned()).AddColumn(new TableColumn("Total").RightAligned());
        foreach (var s in steps)
            table.AddRow(s.Number.ToString(), Markup.Escape(s.Action), s.Moved.Count.ToString(), s.EnabledOptions.ToString(), Verdict(s.Verdict),
                $"{s.BuildSeconds:F0} s", $"{s.BootSeconds:F0} s", $"{s.TotalSeconds:F0} s");
        output.Write(table);
        foreach (var s in steps)
            output.Line($"  {s.Number}. " + (s.Applied.Count == 0 ? "" : $"{string.Join(", ", s.Applied.Take(8))}{(s.Applied.Count > 8 ? $" and {s.Applied.Count - 8} more" : "")}: ") +
                        FirstLine(s.Message));
    }

    private static string Verdict(StepVerdict verdict) => verdict switch
    {
        StepVerdict.Good => "[green]good[/]",
        StepVerdict.Bad => "[red]bad[/]",
        StepVerdict.Skip => "[yellow]skip[/]",
        _ => "[red]abort[/]",
    };

    public static void Analysis(AnalysisResult result, string sparseLog, KilnOutput output)
    {
        foreach (var patch in result.Patches)
        {
            output.Info($"{patch.Patch}: {patch.Errors} error(s), {patch.Warnings} warning(s)");
            foreach (var finding in patch.Findings.Where(f => f.Severity != Severity.Check))
                (finding.Severity == Severity.Error ? (Action<string>)output.Warning : output.Info)("  " + finding);
        }
        foreach (var (file, why) in result.SparseNotBuilt)
            output.Warning($"sparse could not check {file}: make could not build its object with this config ({why}); see {sparseLog}");
        output.Info($"sparse checked {(result.SparseChecked.Count == 0 ? "no files" : string.Join(", ", result.SparseChecked))}" +
                    (result.PreExisting.Count > 0 ? $"; {result.PreExisting.Count} finding(s) on lines the series does not add (in {result.ReportPath})" : ""));
    }

    private static string FirstLine(string text)
    {
        var line = text.Split('\n')[0];
        return line.Length > 200 ? line[..197] + "..." : line;
    }
}
