using Cake.Frosting;

namespace Kiln.Build.Tasks;

[TaskName(nameof(CacheKey))]
[TaskDescription("Print the cache key (version-counter) and input hash for CI; fail when inputs changed without a kata_config_version bump.")]
public sealed class CacheKey : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var (key, hash) = (context.Target.CacheKey, context.Target.Recipe.Hash);
        context.Pipeline.CheckLock(check =>
        {
            // Stable for CI scripts (grep '^key='), also when the check then fails.
            context.Output.Print(CiKeys.Key, key);
            context.Output.Print(CiKeys.InputHash, hash);
            context.Output.Print(CiKeys.Lock, check.Status.ToString());
        });
    }
}
