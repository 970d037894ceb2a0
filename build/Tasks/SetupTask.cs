using Cake.Frosting;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Setup))]
[TaskDescription("Check host prerequisites (install them as root or with --install-deps), verify the kernel source and look its build up in the caches; the source is extracted only on a miss.")]
public sealed class Setup : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var acquired = context.Acquired = context.Pipeline.Acquire();
        context.Output.Set(CiKeys.Identity, acquired.Identity.Hash);
        context.Output.Set(CiKeys.Cache, acquired.CacheStatus);
    }
}
