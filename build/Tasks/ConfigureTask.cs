using System.Diagnostics;
using Cake.Frosting;
using Kiln.Kernel.Config;
using Kiln.Kernel.Sources;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Configure))]
[IsDependentOn(typeof(Patch))]
[TaskDescription("Merge configs/fragments onto the base config (tinyconfig) with merge_config.sh + olddefconfig and prove every requested option holds.")]
public sealed class Configure : FrostingTask<BuildContext>
{
    public override bool ShouldRun(BuildContext context) => !context.SkipOnCacheHit(nameof(Configure));

    public override void Run(BuildContext context) => Apply(context);

    /// <summary>Also used by Analyze, which needs the configured build directory even when the kernel is cached.</summary>
    internal static void Apply(BuildContext context)
    {
        var watch = Stopwatch.StartNew();
        var tree = context.Require(context.PatchedTree, nameof(Patch));
        var source = context.Require(context.Source, nameof(Setup));
        var fragments = context.SelectFragments();
        context.Fragments = fragments.Fragments.Select(f => f.DisplayName).ToList();
        var allowListPath = Path.Combine(context.RepoRoot, "configs", "allow-dropped.conf");
        var allowList = File.Exists(allowListPath) ? AllowList.Load(allowListPath) : AllowList.Empty;
        var inputs = ConfigureStamp.InputsHash(tree.Path, fragments, context.BaseConfig, allowList);

        using (CacheLock.Acquire(Path.Combine(context.CacheDir, "locks", $"build-{Path.GetFileName(context.BuildDir)}.lock"), context.Log))
        {
            // A local tree's Kconfig files may have changed under the same path: always reconfigure those.
            if (!source.Provenance.IsLocalTree && ConfigureStamp.IsCurrent(context.BuildDir, inputs))
            {
                context.Log.Info($"Configure: {context.BuildDir}/.config is current (same tree, fragments and base config) and was verified");
                return;
            }
            ConfigureStamp.Clear(context.BuildDir);
            var request = new ConfigureRequest(tree.Path, context.BuildDir, KernelArch.Parse(context.Arch), fragments)
            {
                BaseConfig = context.BaseConfig,
                AllowList = allowList,
                Runtime = context.Runtime,
            };
            var result = new KernelConfigurator(context.Log).Configure(request);
            result.Verification.ThrowIfFailed();
            ConfigureStamp.Write(context.BuildDir, inputs);
            context.Log.Info($"Configured {context.BuildDir}: {result.Verification.Checked.Count} requested options from {fragments.Fragments.Count} fragments all hold");
        }
        context.ConfigureDuration = watch.Elapsed;
    }
}
