using Cake.Frosting;
using Kiln.Kernel.Build;
using Kiln.Kernel.Build.Distribution;
using Kiln.Kernel.Sources;

namespace Kiln.Build.Tasks;

[TaskName(nameof(BuildKernel))]
[IsDependentOn(typeof(Configure))]
[TaskDescription("Build the kernel (ccache, reproducible) into --out and the local cache; a cached identical build is reused in seconds.")]
public sealed class BuildKernel : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var cache = new KernelCache(context.CacheDir);
        if (context.CachedKernel is { } hit)
        {
            KernelCache.Export(hit, context.OutDir);
            context.Kernel = hit;
            context.Log.Info($"Cache hit: Linux {hit.Metadata.Release} ({context.Identity!.ShortHash}) from {hit.Directory} copied to {context.OutDir}");
            WriteCiOutput(context);
            return;
        }

        var identity = context.Require(context.Identity, nameof(Setup));
        var tree = context.Require(context.PatchedTree, nameof(Patch));
        var source = context.Require(context.Source, nameof(Setup));
        var toolchain = context.Toolchain;
        var distribution = PlanDistribution(context);
        BuiltKernel built;
        using (CacheLock.Acquire(Path.Combine(context.CacheDir, "locks", $"build-{Path.GetFileName(context.BuildDir)}.lock"), context.Log))
        {
            built = KernelBuilder.Build(new BuildRequest(tree.Path, context.BuildDir, toolchain, context.LocalVersion, distribution.Jobs,
                Path.Combine(context.CacheDir, "ccache"), Path.Combine(context.OutDir, "build.log"), distribution, context.Runtime), context.Log);
        }
        if (built.Release != context.CacheKey)
            context.Log.Warning($"The release is {built.Release}, not the cache key {context.CacheKey}: the tree's Makefile sets EXTRAVERSION or CONFIG_LOCALVERSION is set");

        var files = new Dictionary<string, string>
        {
            [toolchain.ImageName] = built.Image,
            ["vmlinux"] = built.Vmlinux,
            ["System.map"] = built.SystemMap,
            ["config"] = built.Config,
        };
        foreach (var (name, path) in built.Extras) files[name] = path;
        var toolchainInfo = new Dictionary<string, string>
        {
            ["compiler"] = toolchain.Describe(context.Runtime, context.Log),
            ["ccache"] = "ccache " + Path.Combine(context.CacheDir, "ccache"),
            ["jobs"] = distribution.Jobs.ToString(),
        };
        var durations = new Dictionary<string, double>
        {
            ["configure"] = Math.Round(context.ConfigureDuration.TotalSeconds, 1),
            ["build"] = Math.Round(built.Duration.TotalSeconds, 1),
        };
        context.Kernel = cache.Store(identity, files, hashes => new BuildMetadata(
            context.CacheKey, identity.Hash, context.Recipe.Hash, context.Version.ToString(), built.Release, context.Arch,
            context.Variant, context.BaseConfig, source.Provenance, toolchainInfo, durations, hashes,
            context.Patches.Patches.Select(p => p.FileName).ToList(), context.Fragments, distribution, context.Runtime.Metadata), context.Log);
        KernelCache.Export(context.Kernel, context.OutDir);
        context.Log.Info($"Linux {built.Release}: {toolchain.ImageName} sha256 {context.Kernel.Metadata.Files[toolchain.ImageName]}, artifacts in {context.OutDir}");
        WriteCiOutput(context);
    }

    private static void WriteCiOutput(BuildContext context)
    {
        var kernel = context.Kernel!;
        context.CiOutput.Set(CiKeys.Release, kernel.Metadata.Release);
        context.CiOutput.Set(CiKeys.ArtifactsDir, context.OutDir);
        context.CiOutput.Set(CiKeys.KernelImage, Path.Combine(context.OutDir, context.Toolchain.ImageName));
        context.CiOutput.Set(CiKeys.Metadata, Path.Combine(context.OutDir, BuildMetadata.FileName));
    }

    /// <summary>Probes the farm right before make, so the decision reflects the farm as it is now.</summary>
    private static BuildDistribution PlanDistribution(BuildContext context)
    {
        if (context.DistccFarm is not { } farm) return BuildDistribution.Local(context.Jobs);
        var plan = farm.Plan(farm.Probe(DistccFarm.DefaultProbeTimeout), Environment.ProcessorCount, context.RequestedJobs, context.Log);
        return plan.IsDistributed ? plan with { EngineVersion = DistccFarm.EngineVersion(context.Log) } : plan;
    }
}
