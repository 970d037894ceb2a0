using Cake.Frosting;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;

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
            var planPath = context.Options.BisectPlanPath ?? throw KilnException.BadInput(
                $"BisectStep runs inside Bisect (git bisect run); it needs --{KilnOptions.ArgumentFor(nameof(KilnOptions.BisectPlanPath))}=FILE.");
            record = context.Pipeline.BisectStep(BisectPlan.Load(planPath));
        }
        catch (Exception e)
        {
            // Any other exit code would tell git bisect this commit is bad: a broken step must stop the bisect instead.
            // A bug in Kiln keeps its stack trace.
            var why = ExitCodes.For(e) is null ? $"internal error: {e}" : e.Message;
            throw new KilnException(BisectExitCodes.Abort, "Bisect step could not run: " + why, e);
        }
        if (record.Verdict != StepVerdict.Good)
            throw new KilnException(record.ExitCode, $"{record.ShortSha} is {record.Verdict.ToString().ToLowerInvariant()}: {record.Message}");
    }
}
