using System.Reflection;
using Cake.Frosting;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Bisect))]
[TaskDescription("Find the first bad commit between --good and --bad in --repo (or the first bad patch with --patches): git bisect run configures, builds and boot-tests each step in a separate worktree.")]
public sealed class Bisect : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var run = context.Pipeline.Bisect(planPath => StepCommand(context.Options, planPath));
        Reports.Bisect(run.Outcome, context.Output);
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
}
