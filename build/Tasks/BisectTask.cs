using System.Reflection;
using Cake.Frosting;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;
using Spectre.Console;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Bisect))]
[TaskDescription("Find the first bad commit between --good and --bad in --repo (or the first bad patch with --patches): git bisect run configures, builds and boot-tests each step in a separate worktree.")]
public sealed class Bisect : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var run = context.Pipeline.Bisect(planPath => StepCommand(context.Options, planPath));
        Print(run.Outcome, context.Output);
        context.Output.Info($"Report: {run.Report}; per-step build logs and boot results in {run.StepsDirectory}");
        BisectSession.Conclude(run.Outcome, context.Output);
    }

    /// <summary>This host again (dotnet Build.dll, or the app host), running the BisectStep target with the plan and the same options.</summary>
    private static IReadOnlyList<string> StepCommand(KilnOptions options, string planPath)
    {
        var host = Environment.ProcessPath ?? throw KilnException.Infrastructure("Cannot tell which program is running Kiln, so bisect cannot start its steps.");
        var command = new List<string> { host };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") command.Add(Assembly.GetEntryAssembly()!.Location);
        command.Add("--target=" + nameof(BisectStep));
        command.AddRange(options.ToArguments());
        command.Add($"--{KilnOptions.ArgumentFor(nameof(KilnOptions.BisectPlanPath))}={planPath}");
        return command;
    }

    private static void Print(BisectOutcome outcome, KilnOutput output)
    {
        var table = new Table()
            .AddColumn(new TableColumn("#").RightAligned()).AddColumn("Commit").AddColumn("Subject").AddColumn("Verdict")
            .AddColumn(new TableColumn("Exit").RightAligned()).AddColumn(new TableColumn("Configure").RightAligned())
            .AddColumn(new TableColumn("Build").RightAligned()).AddColumn(new TableColumn("Boot").RightAligned())
            .AddColumn(new TableColumn("Total").RightAligned());
        foreach (var s in outcome.Steps)
        {
            var verdict = s.Verdict switch
            {
                StepVerdict.Good => "[green]good[/]",
                StepVerdict.Bad => "[red]bad[/]",
                StepVerdict.Skip => "[yellow]skip[/]",
                _ => "[red]abort[/]",
            };
            table.AddRow(s.Number.ToString(), s.ShortSha, Markup.Escape(s.Subject), verdict, s.ExitCode.ToString(),
                $"{s.ConfigureSeconds:F0} s", $"{s.BuildSeconds:F0} s", $"{s.BootSeconds:F0} s", $"{s.TotalSeconds:F0} s");
        }
        output.Write(table);
        // Details below the table: a build error or a failed check does not fit a column.
        foreach (var s in outcome.Steps) output.Line($"  {s.Number}. {s.ShortSha}: {FirstLine(s.Message)}");
        output.Line($"{outcome.Steps.Count} step(s), {outcome.Skipped} skipped, for {outcome.Range.Commits} commit(s) " +
                              $"(bound: {outcome.MaxDecidingSteps} deciding builds plus skips{(outcome.WithinBound ? "" : " — EXCEEDED")}) " +
                              $"in {outcome.Duration:hh\\:mm\\:ss}");
        output.Line("git bisect log:");
        foreach (var line in outcome.Log) output.Line("  " + line);
    }

    private static string FirstLine(string text)
    {
        var line = text.Split('\n')[0];
        return line.Length > 200 ? line[..197] + "..." : line;
    }
}
