using Cake.Core;
using Cake.Frosting;
using Kiln.Kernel;
using Kiln.Kernel.Build;
using Kiln.Build.Tools.Docker;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Build.Distribution;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.Patches;
using Kiln.Kernel.Pipeline;
using Kiln.Kernel.RemoteCache;
using Kiln.Kernel.Sources;
using Kiln.Kernel.Versions;
using Kiln.Kernel.IO;

namespace Kiln.Build;

/// <summary>
/// The typed context every task reads: the parsed arguments, what versions.yaml and kata_config_version
/// say, and what earlier tasks produced.
/// </summary>
public sealed class BuildContext : FrostingContext
{
    public BuildContext(ICakeContext context) : base(context)
    {
        Log = new CakeKilnLog(context.Log);
        var arguments = context.Arguments.GetArguments()
            .SelectMany(a => a.Value.Select(v => (a.Key, Value: v)))
            .ToLookup(a => a.Key, a => a.Value, StringComparer.OrdinalIgnoreCase);
        var environment = System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        Options = KilnOptions.Parse(arguments, environment, FindRepoRoot(), Kiln.Kernel.HostSetup.Prerequisites.IsRoot);

        Manifest = VersionsManifest.Load(Path.Combine(RepoRoot, "versions.yaml"));
        ConfigVersion = Kiln.Kernel.Versions.ConfigVersion.Load(Path.Combine(RepoRoot, "kata_config_version"));
        (Pin, Version) = Manifest.Resolve(Options.Kernel);
        Recipe = BuildRecipe.Collect(RepoRoot, Version, Arch.Name, Variant);
        CacheKey = CacheIdentity.KeyFor(Version, ConfigVersion, Variant);
        // One directory per build by default, so x86_64 and arm64 (or dbg) artifacts never mix.
        OutDir = Options.Out ?? Path.GetFullPath(Path.Combine(RepoRoot, "artifacts", $"{CacheKey}-{Arch}"));
        KataDestDir = Options.KataDestDir ?? new KilnPaths(CacheDir, OutDir).DefaultKataDestDir;
        if (Options.CacheRegistry is { } registry)
            RemoteCache = new RemoteKernelCache(RegistryReference.Parse(registry), Log, Options.RegistryCredentials);
        CiOutput = new CiOutput(Options.CiOutputFiles);
    }

    /// <summary>The arguments and environment, parsed and validated once.</summary>
    public KilnOptions Options { get; }

    /// <summary>Tasks talk to the domain library's log; Cake's own stays reachable as ICakeContext.Log.</summary>
    public new IKilnLog Log { get; }
    public string RepoRoot => Options.RepoRoot;
    public Arch Arch => Options.Arch;
    public string Variant => Options.Variant;
    public VersionsManifest Manifest { get; }
    public int ConfigVersion { get; }
    public SeriesPin Pin { get; }
    public KernelVersion Version { get; }
    public BuildRecipe Recipe { get; }
    /// <summary>The human cache key, e.g. 6.1.192-1 (plus -dbg for that variant).</summary>
    public string CacheKey { get; }
    public string SourceChoice => Options.Source;
    public string? Mirror => Options.Mirror;
    public string? Keyring => Options.Keyring;

    /// <summary>make -j for a local build: --jobs, else the CPU count.</summary>
    public int Jobs => Options.Jobs;
    /// <summary>--jobs when given; a distributed build otherwise sizes -j from the farm.</summary>
    public int? RequestedJobs => Options.RequestedJobs;
    /// <summary>--distcc-hosts / KILN_DISTCC_HOSTS, when set.</summary>
    public DistccFarm? DistccFarm => Options.DistccFarm;
    public const string DockerRuntimeName = KilnOptions.DockerRuntime;
    /// <summary>--runtime / KILN_RUNTIME: host or docker.</summary>
    public string RuntimeName => Options.Runtime;
    /// <summary>--builder-mirror: where debootstrap gets the builder image's packages.</summary>
    public string BuilderMirror => Options.BuilderMirror;
    public string OutDir { get; }
    public string CacheDir => Options.CacheDir;
    public bool NoCache => Options.NoCache;
    public bool MayInstall => Options.MayInstall;
    public bool UpdateLock => Options.UpdateLock;
    public string BaseConfig => Options.BaseConfig;
    public int? TimeoutSeconds => Options.TimeoutSeconds;
    public IReadOnlyList<string> Tests => Options.Tests;
    public string Append => Options.Append;
    /// <summary>PackageStage1: Kata's install prefix and DESTDIR.</summary>
    public string KataPrefix => Options.KataPrefix;
    public string KataDestDir { get; }
    /// <summary>PackageStage1: where to push the OCI image (a skopeo destination without tag), if anywhere.</summary>
    public string? PushRepository => Options.PushRepository;
    public bool PushInsecure => Options.PushInsecure;

    /// <summary>The remote kernel cache (--cache-registry), or null when none is configured.</summary>
    public RemoteKernelCache? RemoteCache { get; }

    /// <summary>Where machine-readable results go for CI (--ci-output, $GITHUB_OUTPUT).</summary>
    public CiOutput CiOutput { get; }
    /// <summary>Bisect: the repository and range (--repo, --good, --bad), or the patch series (--patches).</summary>
    public string? BisectRepo => Options.BisectRepo;
    public string? BisectGood => Options.BisectGood;
    public string? BisectBad => Options.BisectBad;
    public bool BisectPatches => Options.BisectPatches;
    /// <summary>BisectStep: the plan Bisect wrote for its steps.</summary>
    public string? BisectPlanPath => Options.BisectPlanPath;

    public SourceCache SourceCache => new(CacheDir);

    /// <summary>Fetches (or reuses) the verified source of <see cref="Version"/> the way --source says.</summary>
    public SourceTree AcquireSource()
    {
        using var http = KernelOrgProvider.CreateClient();
        var acquirer = SourceAcquirer.For(SourceChoice, Pin, Manifest, Version, Mirror, MayInstall, http, Keyring);
        var cache = SourceCache;
        using (CacheLock.Acquire(Paths.SourceLock(Version.ToString()), Log))
            return acquirer.Acquire(Version, cache, Log);
    }

    /// <summary>Set by Setup: where make and the compiler run (this host, or the builder image).</summary>
    public BuildRuntime Runtime { get; set; } = BuildRuntime.Host;

    /// <summary>The runtime --runtime asks for; for docker, finds or makes the builder image (minutes, once per package list).</summary>
    public BuildRuntime PrepareRuntime()
    {
        if (RuntimeName != DockerRuntimeName) return BuildRuntime.Host;
        var recipe = BuilderImageRecipe.Load(Path.Combine(RepoRoot, BuilderImageRecipe.PackagesFile), mirror: BuilderMirror);
        var engine = new DockerEngine(this);
        return BuildRuntime.InContainer(engine, BuilderImageFactory.Ensure(engine, recipe, CacheDir, Log), HostUser.Current());
    }

    /// <summary>The patch series for the kernel being built (patches/&lt;series&gt;.x).</summary>
    public PatchSeries Patches => PatchSeries.ForKernel(Path.Combine(RepoRoot, "patches"), Version.ToString());

    /// <summary>The config fragments for this arch and variant (configs/fragments/common, /&lt;arch&gt;, variant dirs).</summary>
    public FragmentSet SelectFragments() => FragmentSet.Select(Path.Combine(RepoRoot, "configs", "fragments"),
        Arch, Variant.Length > 0 ? new[] { Variant } : null);

    /// <summary>Every option the fragments ask for; Configure proves them in .config, BootTest in /proc/config.gz.</summary>
    public IReadOnlyList<RequestedOption> RequestedOptions() => SelectFragments().Requested;

    /// <summary>Incremental build directory (O=) of this version, arch, variant and runtime.</summary>
    public string BuildDir => Paths.BuildDirectory(Version.ToString(), Arch, Variant, RuntimeName);

    /// <summary>The cache and output layout.</summary>
    public KilnPaths Paths => new(CacheDir, OutDir);

    /// <summary>Set by Setup: the verified source tree.</summary>
    public SourceTree? Source { get; set; }

    /// <summary>Set by Setup: the static busybox for the guest's arch.</summary>
    public string GuestBusybox { get; set; } = Kiln.Kernel.HostSetup.GuestBusybox.HostBusybox;

    /// <summary>Set by Setup: the exact identity of the kernel these inputs build.</summary>
    public CacheIdentity? Identity { get; set; }

    /// <summary>Set by Setup when the local cache already holds this identity (and --no-cache is off).</summary>
    public CachedKernel? CachedKernel { get; set; }

    /// <summary>Set by Setup when <see cref="CachedKernel"/> came from the remote cache in this run.</summary>
    public bool PulledFromRemote { get; set; }

    /// <summary>Set by Patch: the tree to build, with the series applied.</summary>
    public PatchedTree? PatchedTree { get; set; }

    /// <summary>Set by Configure: the fragments merged (repository-relative) and the time it took.</summary>
    public IReadOnlyList<string> Fragments { get; set; } = Array.Empty<string>();
    public TimeSpan ConfigureDuration { get; set; }

    /// <summary>LOCALVERSION: makes the release (uname -r) read as the cache key, e.g. 6.1.192-1.</summary>
    public string LocalVersion => CacheKey[Version.ToString().Length..];

    /// <summary>Set by BuildKernel: the artifacts of this run, in the cache.</summary>
    public CachedKernel? Kernel { get; set; }

    public T Require<T>(T? value, string producer) where T : class =>
        value ?? throw new InvalidOperationException($"{producer} did not run before this task");

    /// <summary>Later steps skip when the cache already holds the kernel; they say why.</summary>
    public bool SkipOnCacheHit(string task)
    {
        if (CachedKernel is null) return false;
        Log.Info($"{task}: skipped, cache hit {CachedKernel.Directory}");
        return true;
    }

    /// <summary>KILN_ROOT (set by build.sh), else the nearest directory upwards holding versions.yaml.</summary>
    private static string FindRepoRoot()
    {
        var fromEnv = System.Environment.GetEnvironmentVariable("KILN_ROOT");
        if (!string.IsNullOrEmpty(fromEnv)) return Path.GetFullPath(fromEnv);
        for (var dir = new DirectoryInfo(System.Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "versions.yaml"))) return dir.FullName;
        throw KilnException.BadInput("Cannot find versions.yaml: run from the Kiln repository (or set KILN_ROOT).");
    }
}
