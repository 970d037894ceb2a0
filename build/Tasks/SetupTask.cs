using Cake.Frosting;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Setup))]
[TaskDescription("Check host prerequisites (install them as root or with --install-deps) and fetch the verified kernel source.")]
public sealed class Setup : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var acquired = context.Acquired = context.Pipeline.Acquire();
        context.Output.Set(CiKeys.Identity, acquired.Identity.Hash);
        context.Output.Set(CiKeys.Cache, acquired.CacheStatus);
    }
}
