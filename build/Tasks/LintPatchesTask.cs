using Cake.Frosting;
using Kiln.Kernel.Patches;
using Kiln.Kernel.Pipeline;

namespace Kiln.Build.Tasks;

[TaskName(nameof(LintPatches))]
[TaskDescription("Check patches/<series>.x/: numbering, From/Subject/Signed-off-by, and an origin for backports.")]
public sealed class LintPatches : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var series = KernelTarget.Patches(context.Options, context.Target.Version);
        PatchLint.ThrowIfProblems(series);
        context.Output.Info($"{series.Patches.Count} patch(es) in {series.Directory}: clean");
    }
}
