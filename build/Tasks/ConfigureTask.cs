using Cake.Frosting;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Configure))]
[IsDependentOn(typeof(Patch))]
[TaskDescription("Merge configs/fragments onto the base config (tinyconfig) with merge_config.sh + olddefconfig and prove every requested option holds.")]
public sealed class Configure : FrostingTask<BuildContext>
{
    public override bool ShouldRun(BuildContext context) => !context.SkipOnCacheHit(nameof(Configure));

    public override void Run(BuildContext context) =>
        context.Configured = context.Pipeline.Configure(context.Require(context.Patched, nameof(Patch)).Workspace);
}
