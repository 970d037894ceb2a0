using Cake.Frosting;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;

namespace Kiln.Build.Tasks;

[TaskName(nameof(CacheKey))]
[TaskDescription("Print the cache key (version-counter) and input hash for CI; fail when inputs changed without a kata_config_version bump.")]
public sealed class CacheKey : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var recipe = context.Target.Recipe;
        var lockFile = LockFile.Load(Path.Combine(context.Options.RepoRoot, "kiln.lock"));
        var check = lockFile.Check(recipe, context.Target.ConfigVersion);

        // Machine-readable lines on stdout, stable for CI scripts (grep '^key=').
        Console.WriteLine($"key={context.Target.CacheKey}");
        Console.WriteLine($"input-hash={recipe.Hash}");
        Console.WriteLine($"lock={check.Status}");
        context.CiOutput.Set(CiKeys.Key, context.Target.CacheKey);
        context.CiOutput.Set(CiKeys.InputHash, recipe.Hash);

        if (context.Options.UpdateLock)
        {
            lockFile.Record(recipe, context.Target.ConfigVersion);
            lockFile.Save();
            context.Log.Info($"Recorded {recipe.LockName} at config version {context.Target.ConfigVersion} in {lockFile.Path}");
            return;
        }

        switch (check.Status)
        {
            case LockStatus.ChangedWithoutBump:
                throw KilnException.BadInput(
                    $"The inputs of {recipe.LockName} changed but kata_config_version is still {context.Target.ConfigVersion}, " +
                    $"so caches keyed by {context.Target.CacheKey} would serve a stale kernel:\n  " + string.Join("\n  ", check.Changes) +
                    $"\nBump kata_config_version (to {context.Target.ConfigVersion + 1}), then run ./build.sh --target=CacheKey --update-lock and commit kiln.lock.");
            case LockStatus.NotRecorded or LockStatus.CounterBumped:
                context.Log.Warning($"kiln.lock has no record of {recipe.LockName} at config version {context.Target.ConfigVersion}; run ./build.sh --target=CacheKey --update-lock and commit kiln.lock.");
                break;
        }
    }
}
