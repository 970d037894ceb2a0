using Cake.Frosting;
using Kiln.Kernel.ConfigSearch;
using Kiln.Kernel.Pipeline;

namespace Kiln.Build.Tasks;

[TaskName(KilnTargets.ConfigBisect)]
[IsDependentOn(typeof(Setup))]
[TaskDescription("Find the option whose change from --good-config to --bad-config breaks the boot (or the --test scripts): halves of the differing options applied, made consistent with make olddefconfig, built and booted in a build directory of its own.")]
public sealed class ConfigBisect : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var result = context.Pipeline.ConfigBisect(context.Require(context.Acquired, nameof(Setup)), context.Patched);
        var outcome = result.Outcome;
        Reports.ConfigBisect(result, context.Output);
        context.Output.Set(CiKeys.ConfigBisectStatus, outcome.Status.ToString().ToLowerInvariant());
        context.Output.Set(CiKeys.ConfigCulprits, string.Join(",", outcome.Culprits.Select(c => c.Symbol)));
        context.Output.Set(CiKeys.ConfigBisectReport, result.Report);
        context.Output.Info($"Report: {result.Report}; per-build logs and boot results in {result.StepsDirectory}");
        ConfigSearchSession.Conclude(outcome);
    }
}
