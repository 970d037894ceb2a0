using Cake.Frosting;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Patch))]
[IsDependentOn(typeof(Setup))]
[TaskDescription("Lint and apply patches/<series>.x/ in order to a copy of the source (idempotent; the pristine tree is never touched).")]
public sealed class Patch : FrostingTask<BuildContext>
{
    public override bool ShouldRun(BuildContext context) => !context.SkipOnCacheHit(nameof(Patch));

    public override void Run(BuildContext context) =>
        context.Patched = context.Pipeline.Patch(context.Require(context.Acquired, nameof(Setup)));
}
