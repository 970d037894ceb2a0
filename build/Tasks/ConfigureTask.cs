using Cake.Frosting;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Configure))]
[IsDependentOn(typeof(Patch))]
[TaskDescription("Merge configs/fragments with the kernel's merge_config.sh (tinyconfig/allnoconfig base: as Kata's build-kernel.sh, merge_config.sh -n; other bases: -m + olddefconfig) and prove every requested option holds.")]
public sealed class Configure : FrostingTask<BuildContext>
{
    public override bool ShouldRun(BuildContext context) => !context.SkipOnCacheHit(nameof(Configure));

    public override void Run(BuildContext context) =>
        context.Configured = context.Pipeline.Configure(context.Require(context.Patched, nameof(Patch)).Workspace);
}
