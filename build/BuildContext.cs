using Cake.Core;
using Cake.Frosting;
using Kiln.Kernel.Build;
using Kiln.Build.Tools.Docker;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Build.Distribution;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.Patches;
using Kiln.Kernel.RemoteCache;
using Kiln.Kernel.Sources;
using Kiln.Kernel.Versions;

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
        RepoRoot = FindRepoRoot();
        Arch = Argument(BuildArguments.Arch) ?? "x86_64";
        if (Arch is not ("x86_64" or "arm64"))
            throw KilnException.BadInput($"--arch={Arch}: unknown architecture. Valid: x86_64, arm64.");
        Variant = Argument(BuildArguments.Variant) ?? "";
        foreach (var dir in BuildRecipe.VariantDirectories(Variant))
            if (!Directory.Exists(Path.Combine(RepoRoot, "configs", "fragments", dir)))
                throw KilnException.BadInput($"--variant={Variant}: there is no configs/fragments/{dir}/ for it. Known variants: dbg.");

        Manifest = VersionsManifest.Load(Path.Combine(RepoRoot, "versions.yaml"));
        ConfigVersion = Kiln.Kernel.Versions.ConfigVersion.Load(Path.Combine(RepoRoot, "kata_config_version"));
        (Pin, Version) = Manifest.Resolve(Argument(BuildArguments.Kernel));
        Recipe = BuildRecipe.Collect(RepoRoot, Version, Arch, Variant);
        CacheKey = CacheIdentity.KeyFor(Version, ConfigVersion, Variant);

        SourceChoice = Argument(BuildArguments.Source) ?? "auto";
        Mirror = Argument(BuildArguments.Mirror) ?? NullIfEmpty(System.Environment.GetEnvironmentVariable("KILN_MIRROR"));
        Keyring = Argument(BuildArguments.Keyring) ?? NullIfEmpty(System.Environment.GetEnvironmentVariable("KILN_KEYRING"));
        RequestedJobs = Argument(BuildArguments.Jobs) is null ? null : ParsePositive(BuildArguments.Jobs, 0);
        Jobs = RequestedJobs ?? System.Environment.ProcessorCount;
        // Parsed here so a malformed host list is exit 2 before any work; probed by BuildKernel.
        var distccHosts = Argument(BuildArguments.DistccHosts) ?? System.Environment.GetEnvironmentVariable("KILN_DISTCC_HOSTS");
        DistccFarm = string.IsNullOrWhiteSpace(distccHosts) ? null : DistccFarm.Parse(distccHosts);
        RuntimeName = Argument(BuildArguments.Runtime) ?? NullIfEmpty(System.Environment.GetEnvironmentVariable("KILN_RUNTIME")) ?? BuildRuntime.HostName;
        if (RuntimeName is not (BuildRuntime.HostName or DockerRuntimeName))
            throw KilnException.BadInput($"--runtime={RuntimeName}: unknown runtime. Valid: host, docker.");
        if (RuntimeName == DockerRuntimeName && DistccFarm is not null)
            throw KilnException.BadInput("--runtime=docker builds in a container without network, so it cannot reach a distcc farm: drop --distcc-hosts (or KILN_DISTCC_HOSTS), or use --runtime=host.");
        BuilderMirror = Argument(BuildArguments.BuilderMirror) ?? NullIfEmpty(System.Environment.GetEnvironmentVariable("KILN_BUILDER_MIRROR")) ?? BuilderImageRecipe.DefaultMirror;
        // One directory per build by default, so x86_64 and arm64 (or dbg) artifacts never mix.
        OutDir = Path.GetFullPath(Argument(BuildArguments.Out) ?? Path.Combine(RepoRoot, "artifacts", $"{CacheKey}-{Arch}"));
        CacheDir = Path.GetFullPath(Argument(BuildArguments.CacheDir)
                                    ?? NullIfEmpty(System.Environment.GetEnvironmentVariable("KILN_CACHE_DIR"))
                                    ?? Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".cache", "kiln"));
        NoCache = Flag(BuildArguments.NoCache);
        MayInstall = Flag(BuildArguments.InstallDeps) || Kiln.Kernel.HostSetup.Prerequisites.IsRoot;
        UpdateLock = Flag(BuildArguments.UpdateLock);
        BaseConfig = Argument(BuildArguments.BaseConfig) ?? "tinyconfig";
        TimeoutSeconds = Argument(BuildArguments.Timeout) is null ? null : ParsePositive(BuildArguments.Timeout, 0);
        Tests = context.Arguments.GetArguments(BuildArguments.Test).Select(Path.GetFullPath).ToList();
        foreach (var test in Tests)
            if (!File.Exists(test)) throw KilnException.BadInput($"--test={test}: no such file.");
        Append = Argument(BuildArguments.Append) ?? "";
        KataPrefix = Argument(BuildArguments.Prefix) ?? "/usr";
        KataDestDir = Path.GetFullPath(Argument(BuildArguments.DestDir)
                                       ?? NullIfEmpty(System.Environment.GetEnvironmentVariable("DESTDIR"))
                                       ?? Path.Combine(OutDir, "kata"));
        PushRepository = Argument(BuildArguments.Push);
        PushInsecure = Flag(BuildArguments.PushInsecure);

        var registry = Argument(BuildArguments.CacheRegistry) ?? NullIfEmpty(System.Environment.GetEnvironmentVariable("KILN_CACHE_REGISTRY"));
        if (registry is not null)
        {
            var user = NullIfEmpty(System.Environment.GetEnvironmentVariable("KILN_CACHE_REGISTRY_USER"));
            var credentials = user is null ? null : new RegistryCredentials(user, System.Environment.GetEnvironmentVariable("KILN_CACHE_REGISTRY_PASSWORD") ?? "");
            RemoteCache = new RemoteKernelCache(RegistryReference.Parse(registry), Log, credentials);
        }
        CiOutput = new CiOutput(new[]
        {
            Argument(BuildArguments.CiOutput) ?? NullIfEmpty(System.Environment.GetEnvironmentVariable("KILN_CI_OUTPUT")),
            NullIfEmpty(System.Environment.GetEnvironmentVariable("GITHUB_OUTPUT")),
        }.OfType<string>());
        BisectRepo = Argument(BuildArguments.Repo);
        BisectGood = Argument(BuildArguments.Good);
        BisectBad = Argument(BuildArguments.Bad);
        BisectPatches = Flag(BuildArguments.Patches);
        BisectPlanPath = Argument(BuildArguments.BisectPlan);
    }

    /// <summary>Tasks talk to the domain library's log; Cake's own stays reachable as ICakeContext.Log.</summary>
    public new IKilnLog Log { get; }
    public string RepoRoot { get; }
    public string Arch { get; }
    public string Variant { get; }
    public VersionsManifest Manifest { get; }
    public int ConfigVersion { get; }
    public SeriesPin Pin { get; }
    public KernelVersion Version { get; }
    public BuildRecipe Recipe { get; }
    /// <summary>The human cache key, e.g. 6.1.192-1 (plus -dbg for that variant).</summary>
    public string CacheKey { get; }
    public string SourceChoice { get; }
    public string? Mirror { get; }
    public string? Keyring { get; }

    /// <summary>make -j for a local build: --jobs, else the CPU count.</summary>
    public int Jobs { get; }
    /// <summary>--jobs when given; a distributed build otherwise sizes -j from the farm.</summary>
    public int? RequestedJobs { get; }
    /// <summary>--distcc-hosts / KILN_DISTCC_HOSTS, when set.</summary>
    public DistccFarm? DistccFarm { get; }
    public const string DockerRuntimeName = "docker";
    /// <summary>--runtime / KILN_RUNTIME: host or docker.</summary>
    public string RuntimeName { get; }
    /// <summary>--builder-mirror: where debootstrap gets the builder image's packages.</summary>
    public string BuilderMirror { get; }
    public string OutDir { get; }
    public string CacheDir { get; }
    public bool NoCache { get; }
    public bool MayInstall { get; }
    public bool UpdateLock { get; }
    public string BaseConfig { get; }
    public int? TimeoutSeconds { get; }
    public IReadOnlyList<string> Tests { get; }
    public string Append { get; }
    /// <summary>PackageStage1: Kata's install prefix and DESTDIR.</summary>
    public string KataPrefix { get; }
    public string KataDestDir { get; }
    /// <summary>PackageStage1: where to push the OCI image (a skopeo destination without tag), if anywhere.</summary>
    public string? PushRepository { get; }
    public bool PushInsecure { get; }

    /// <summary>The remote kernel cache (--cache-registry), or null when none is configured.</summary>
    public RemoteKernelCache? RemoteCache { get; }

    /// <summary>Where machine-readable results go for CI (--ci-output, $GITHUB_OUTPUT).</summary>
    public CiOutput CiOutput { get; }
    /// <summary>Bisect: the repository and range (--repo, --good, --bad), or the patch series (--patches).</summary>
    public string? BisectRepo { get; }
    public string? BisectGood { get; }
    public string? BisectBad { get; }
    public bool BisectPatches { get; }
    /// <summary>BisectStep: the plan Bisect wrote for its steps.</summary>
    public string? BisectPlanPath { get; }

    public SourceCache SourceCache => new(CacheDir);

    /// <summary>Fetches (or reuses) the verified source of <see cref="Version"/> the way --source says.</summary>
    public SourceTree AcquireSource()
    {
        using var http = KernelOrgProvider.CreateClient();
        var acquirer = SourceAcquirer.For(SourceChoice, Pin, Manifest, Version, Mirror, MayInstall, http, Keyring);
        var cache = SourceCache;
        using (CacheLock.Acquire(Path.Combine(cache.Root, "locks", $"source-{Version}.lock"), Log))
            return acquirer.Acquire(Version, cache, Log);
    }

    public Toolchain Toolchain => Toolchain.For(Arch);

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
        KernelArch.Parse(Arch), Variant.Length > 0 ? new[] { Variant } : null);

    /// <summary>Every option the fragments ask for; Configure proves them in .config, BootTest in /proc/config.gz.</summary>
    public IReadOnlyList<RequestedOption> RequestedOptions() => SelectFragments().Requested;

    /// <summary>
    /// Incremental build directory (O=) of this version, arch, variant and runtime; kept for ccache and make. Host and
    /// container builds keep their own, so neither rebuilds the other's objects; both sit next to the same patched tree,
    /// so ccache (paths relative to the cache dir) serves one the other's compiles.
    /// </summary>
    public string BuildDir => Path.Combine(CacheDir, "build", $"{Version}-{Arch}" + (Variant.Length > 0 ? "-" + Variant : "") +
                                                           (RuntimeName == BuildRuntime.HostName ? "" : "-" + RuntimeName));

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

    /// <summary>Whether the user gave the argument (rather than Kiln using its default).</summary>
    public bool IsGiven(string name) => this.Arguments.HasArgument(name);

    private string? Argument(string name) =>
        this.Arguments.HasArgument(name) ? this.Arguments.GetArguments(name).LastOrDefault() : null;

    private bool Flag(string name) =>
        this.Arguments.HasArgument(name) && !string.Equals(Argument(name), "false", StringComparison.OrdinalIgnoreCase);

    private int ParsePositive(string name, int fallback)
    {
        var text = Argument(name);
        if (text is null) return fallback;
        return int.TryParse(text, out var n) && n > 0 ? n : throw KilnException.BadInput($"--{name}={text}: expected a positive whole number.");
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

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
