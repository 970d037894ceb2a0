using Cake.Frosting;
using Kiln.Kernel.Build;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Identity;
using Kiln.Kernel.Sources;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Setup))]
[TaskDescription("Check host prerequisites (install them as root or with --install-deps) and fetch the verified kernel source.")]
public sealed class Setup : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        Prerequisites.Ensure(context.Arch, context.MayInstall, context.Log, distcc: context.DistccFarm is not null);
        using var http = KernelOrgProvider.CreateClient();
        var acquirer = SourceAcquirer.For(context.SourceChoice, context.Pin, context.Manifest, context.Version,
            context.Mirror, context.MayInstall, http);
        var cache = context.SourceCache;
        using (CacheLock.Acquire(Path.Combine(cache.Root, "locks", $"source-{context.Version}.lock"), context.Log))
            context.Source = acquirer.Acquire(context.Version, cache, context.Log);
        var source = context.Source;
        context.Log.Info($"Linux {source.Version} from {source.Provenance.Provider} ({source.Provenance.Origin}) at {source.Directory}" +
                         (source.Reused ? " [cached]" : ""));

        // The identity is known as soon as the source is: look for a finished build before doing any work.
        var baseConfig = File.Exists(context.BaseConfig) ? "file:" + SourceCache.FileSha256(context.BaseConfig) : context.BaseConfig;
        context.Identity = CacheIdentity.For(context.Recipe, context.ConfigVersion, source.Provenance.Sha256,
            context.Toolchain.Describe(context.Log), baseConfig);
        context.Log.Info($"Cache key {context.CacheKey}, identity {context.Identity.ShortHash}");
        if (context.NoCache)
            context.Log.Info("--no-cache: the kernel will be rebuilt");
        else
            context.CachedKernel = new KernelCache(context.CacheDir).Find(context.Identity, context.Log);
    }
}
