using Cake.Frosting;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Build.Tasks;

[TaskName(nameof(BisectStep))]
[TaskDescription("Run by Bisect through git bisect run: configure, build and boot-test the checked-out commit; exit 0 good, 1 bad, 125 skip, 255 abort.")]
public sealed class BisectStep : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        StepRecord record;
        try
        {
            var planPath = context.BisectPlanPath
                           ?? throw KilnException.BadInput($"BisectStep runs inside Bisect (git bisect run); it needs --{BuildArguments.BisectPlan}=FILE.");
            record = new BisectStepRunner(context.Log).Run(BisectPlan.Load(planPath));
        }
        catch (Exception e)
        {
            // Any other exit code would tell git bisect this commit is bad: a broken step must stop the bisect instead.
            throw new KilnException(BisectExitCodes.Abort, "Bisect step could not run: " + e.Message, e);
        }
        if (record.Verdict != StepVerdict.Good)
            throw new KilnException(record.ExitCode, $"{record.ShortSha} is {record.Verdict.ToString().ToLowerInvariant()}: {record.Message}");
    }
}
