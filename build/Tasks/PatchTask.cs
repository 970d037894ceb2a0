using Cake.Frosting;
using Kiln.Kernel.Patches;
using Kiln.Kernel.Sources;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Patch))]
[IsDependentOn(typeof(Setup))]
[TaskDescription("Lint and apply patches/<series>.x/ in order to a copy of the source (idempotent; the pristine tree is never touched).")]
public sealed class Patch : FrostingTask<BuildContext>
{
    public override bool ShouldRun(BuildContext context) => !context.SkipOnCacheHit(nameof(Patch));

    public override void Run(BuildContext context) => Apply(context);

    /// <summary>Also used by Analyze, which needs the patched tree even when the kernel is cached.</summary>
    internal static void Apply(BuildContext context)
    {
        var series = context.Patches;
        PatchLint.ThrowIfProblems(series);
        var source = context.Require(context.Source, nameof(Setup));
        if (source.Provenance.IsLocalTree)
        {
            // A developer's tree is built as it stands: a patched copy of it would go stale with their next edit.
            context.PatchedTree = new PatchedTree(source.Directory, series.Hash, Array.Empty<AppliedPatch>(), Reused: true);
            context.Log.Info($"Local tree {source.Directory} is built as it is; {series.Directory} is not applied (git am it into your tree if you want it)");
            return;
        }
        var trees = Path.Combine(context.CacheDir, "trees");
        using (CacheLock.Acquire(Path.Combine(context.CacheDir, "locks", $"trees-{context.Version}.lock"), context.Log))
            context.PatchedTree = new PatchApplier(context.Log).Apply(series, source.Directory, trees, $"linux-{context.Version}", source.Provenance.Sha256);
        if (series.IsEmpty)
            context.Log.Info($"No patches for {context.Version.SeriesName}.x; building the pristine tree");
    }
}
