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
            // Machine-readable lines on stdout, stable for CI scripts (grep '^key='), also when the check then fails.
            Console.WriteLine($"key={key}");
            Console.WriteLine($"input-hash={hash}");
            Console.WriteLine($"lock={check.Status}");
            context.CiOutput.Set(CiKeys.Key, key);
            context.CiOutput.Set(CiKeys.InputHash, hash);
        });
    }
}
