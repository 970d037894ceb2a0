using Cake.Frosting;
using Kiln.Kernel.ConfigSearch;
using Kiln.Kernel.Pipeline;

namespace Kiln.Build.Tasks;

[TaskName(KilnTargets.MinConfig)]
[IsDependentOn(typeof(Setup))]
[TaskDescription("Shrink the target's config (or --config) to as few options as still pass BootTest and the --test scripts: groups of options turned off, made consistent with make olddefconfig, built and booted; resumable, --max-steps builds a run; writes <out>/min-config.conf.")]
public sealed class MinConfig : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var result = context.Pipeline.MinConfig(context.Require(context.Acquired, nameof(Setup)), context.Patched);
        var outcome = result.Outcome;
        Reports.MinConfig(result, context.Output);
        context.Output.Set(CiKeys.MinConfig, result.Fragment);
        context.Output.Set(CiKeys.MinConfigEnabled, outcome.Best.Enabled.Count.ToString());
        context.Output.Set(CiKeys.MinConfigConverged, outcome.State.Converged ? "true" : "false");
        context.Output.Set(CiKeys.MinConfigReport, result.Report);
        context.Output.Info($"Report: {result.Report}; fragment {result.Fragment}; state {result.StatePath}; per-build logs in {result.StepsDirectory}");
        ConfigSearchSession.Conclude(outcome);
    }
}
