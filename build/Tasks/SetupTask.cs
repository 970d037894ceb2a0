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
        Prerequisites.Ensure(context.Arch, context.MayInstall, context.Log, distcc: context.DistccFarm is not null,
            docker: context.RuntimeName == BuildContext.DockerRuntimeName);
        context.Runtime = context.PrepareRuntime();
        context.GuestBusybox = GuestBusybox.Locate(context.Arch, context.CacheDir, context.MayInstall, context.Log);
        context.Source = context.AcquireSource();
        var source = context.Source;
        context.Log.Info($"Linux {source.Version} from {source.Provenance.Provider} ({source.Provenance.Origin}) at {source.Directory}" +
                         (source.Reused ? " [cached]" : ""));

        // The identity is known as soon as the source is: look for a finished build before doing any work.
        var baseConfig = File.Exists(context.BaseConfig) ? "file:" + SourceCache.FileSha256(context.BaseConfig) : context.BaseConfig;
        context.Identity = CacheIdentity.For(context.Recipe, context.ConfigVersion, source.Provenance.Sha256,
            context.Toolchain.Describe(context.Runtime, context.Log), baseConfig, context.Runtime.IdentityText);
        context.Log.Info($"Cache key {context.CacheKey}, identity {context.Identity.ShortHash}");
        context.CiOutput.Set(CiKeys.Identity, context.Identity.Hash);
        if (context.NoCache)
        {
            context.Log.Info("--no-cache: the kernel will be rebuilt");
            context.CiOutput.Set(CiKeys.Cache, "skipped");
            return;
        }
        if (source.Provenance.IsLocalTree)
        {
            // A developer's tree changes without a new commit; make's own dependency tracking decides what to rebuild.
            context.Log.Info($"{source.Directory} is your own tree and may have changed since the last build: not looking it up in the kernel cache (make rebuilds only what changed)");
            context.CiOutput.Set(CiKeys.Cache, "skipped");
            return;
        }

        var local = new KernelCache(context.CacheDir);
        context.CachedKernel = local.Find(context.Identity, context.Log);
        if (context.CachedKernel is null && context.RemoteCache is { } remote)
        {
            // Runs sharing a cache dir pull once: whoever waited on the lock finds the entry the other pulled.
            using (CacheLock.Acquire(Path.Combine(context.CacheDir, "locks", $"pull-{context.Identity.EntryName}.lock"), context.Log))
            {
                context.CachedKernel = local.Find(context.Identity, context.Log);
                if (context.CachedKernel is null)
                {
                    context.CachedKernel = remote.TryPull(context.Identity, local);
                    context.PulledFromRemote = context.CachedKernel is not null;
                }
            }
        }
        context.CiOutput.Set(CiKeys.Cache, context.PulledFromRemote ? "pulled" : context.CachedKernel is not null ? "local" : "miss");
        if (context.CachedKernel is null)
            context.Log.Info($"No cached kernel for {context.Identity.EntryName}: BuildKernel will compile it");
    }
}
