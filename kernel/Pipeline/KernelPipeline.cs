using System.Diagnostics;
using Kiln.Kernel.Analysis;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Build;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Build.Distribution;
using Kiln.Kernel.Config;
using Kiln.Kernel.ConfigSearch;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Identity;
using Kiln.Kernel.IO;
using Kiln.Kernel.Packaging;
using Kiln.Kernel.Patches;
using Kiln.Kernel.RemoteCache;
using Kiln.Kernel.Reproduction;
using Kiln.Kernel.Run;
using Kiln.Kernel.Kselftest;
using Kiln.Kernel.KUnit;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.Pipeline;

/// <summary>The stages tasks call, one each; a fake stands in for it in the task adapters' unit tests.</summary>
public interface IKernelPipeline
{
    KilnOptions Options { get; }
    KernelTarget Target { get; }
    Acquired Acquire();
    Patched Patch(Acquired acquired);
    Configured Configure(Workspace workspace, CancellationToken cancellation = default);
    Built Build(Patched patched, Configured configured);
    Built Reuse(Acquired acquired);
    Booted Boot(Built built);
    /// <summary>After a passing boot: pushes the kernel to the remote cache; null when nothing is configured or due.</summary>
    bool? Share(Booted booted);
    Packaged Package(Booted booted);
    AnalysisResult Analyze(Acquired acquired, Patched? patched);
    /// <summary>ConfigDiff: the Configure stage on the patched tree (patching first when a cache hit skipped Patch), then its .config against --against.</summary>
    ConfigCompared CompareConfig(Acquired acquired, Patched? patched);
    /// <summary>kiln.lock's verdict on the recipe (<paramref name="report"/> sees it before any failure); --update-lock records it.</summary>
    LockCheck CheckLock(Action<LockCheck> report);
    /// <summary>The Bisect target: git bisect run over the range, each step this host's BisectStep (<paramref name="stepCommand"/> of the plan's path).</summary>
    BisectSessionResult Bisect(Func<string, IReadOnlyList<string>> stepCommand);
    /// <summary>One bisect step on the commit checked out in the plan's worktree; the kernel's faults are verdicts, not exceptions.</summary>
    StepRecord BisectStep(BisectPlan plan);
    /// <summary>ConfigBisect: the option whose change from --good-config to --bad-config breaks the boot, on the patched tree (patching first when a cache hit skipped Patch).</summary>
    ConfigBisectResult ConfigBisect(Acquired acquired, Patched? patched);
    /// <summary>MinConfig: the smallest config that still passes, from --config or the target's, resumable; written as a fragment.</summary>
    MinConfigResult MinConfig(Acquired acquired, Patched? patched);
    /// <summary>The Reproduce target: the built kernel against a rebuild from nothing elsewhere (patching first when a cache hit skipped Patch).</summary>
    ReproduceReport Reproduce(Built built);
    /// <summary>
    /// Run and Shell: the built kernel booted into the host's environment, running --exec (or a shell) in the current
    /// directory; the command's stdout and stderr stream to <paramref name="output"/> and <paramref name="error"/>.
    /// </summary>
    GuestSessionResult Session(Built built, Stream output, Stream error);
    /// <summary>The Kselftest target: --kselftest's selftests built for the tree and run in the guest, one check per test; their TAP streams to <paramref name="output"/>.</summary>
    KselftestOutcome Kselftest(Built built, Stream output, Stream error);
}

/// <summary>
/// The one pipeline: Acquire → Patch → Configure → Build → Boot → Package. Each stage takes the options (held here)
/// and the previous stage's result. Configure, <see cref="Compile"/> and <see cref="BootTest"/> are also what each
/// bisect step runs on its worktree, so every option that reaches BootTest reaches a bisect step.
/// </summary>
public sealed class KernelPipeline : IKernelPipeline
{
    private readonly IKilnLog _log;
    private readonly Func<IContainerEngine> _containerEngine;
    private readonly Lazy<RemoteKernelCache?> _remote;
    /// <summary>Build-directory locks this run holds, by lock path: Configure takes one and make releases it (see <see cref="HoldBuildLock"/>).</summary>
    private readonly Dictionary<string, CacheLock> _buildLocks = new(StringComparer.Ordinal);

    /// <param name="containerEngine">Makes the engine --runtime=docker runs make in (the host's docker wrappers).</param>
    public KernelPipeline(KilnOptions options, IKilnLog log, Func<IContainerEngine> containerEngine)
    {
        Options = options;
        Target = KernelTarget.Resolve(options);
        _log = log;
        _containerEngine = containerEngine;
        _remote = new(() => options.Registry is { } registry ? new RemoteKernelCache(registry, log, options.RegistryCredentials) : null);
    }

    public KilnOptions Options { get; }
    public KernelTarget Target { get; }
    private KilnPaths Paths => Target.Paths;

    /// <summary>Prerequisites (installed when allowed), the runtime (for docker, the builder image: minutes, once per package list) and the guest's busybox.</summary>
    public HostReady PrepareHost()
    {
        Prerequisites.Ensure(Options.Arch, Options.MayInstall, _log, distcc: Options.DistccFarm is not null, docker: Options.InContainer, toolchain: Options.Toolchain,
            kselftest: Options.KselftestTargets.Count > 0);
        var runtime = BuildRuntime.Host;
        if (Options.InContainer)
        {
            var recipe = BuilderImageRecipe.Load(Path.Combine(Options.RepoRoot, BuilderImageRecipe.PackagesFile), mirror: Options.BuilderMirror);
            var engine = _containerEngine();
            runtime = BuildRuntime.InContainer(engine, BuilderImageFactory.Ensure(engine, recipe, Options.CacheDir, _log), HostUser.Current());
        }
        return new HostReady(runtime, GuestBusybox.Locate(Options.Arch, Options.CacheDir, Options.MayInstall, _log));
    }

    /// <summary>Verifies (or reuses) the source the way --source says; its tree is extracted when a stage first asks for it.</summary>
    public VerifiedSource AcquireSource() => AcquireSource(_ => false);

    /// <param name="needsTree">Whether the run needs the verified source's tree; it is then extracted before this returns.</param>
    private VerifiedSource AcquireSource(Func<VerifiedSource, bool> needsTree)
    {
        using var http = KernelOrgProvider.CreateClient();
        var acquirer = SourceAcquirer.For(Options.Source, Target.Pin, Target.Manifest, Target.Version, Options.Mirror, Options.MayInstall, http, Options.Keyring,
            Options.DownloadTimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null);
        return acquirer.Acquire(Target.Version, new SourceCache(Options.CacheDir), _log, needsTree);
    }

    public Acquired Acquire()
    {
        // Before anything is read from or written to the cache: another user who can write it could plant a kernel.
        CacheTrust.CreatePrivate(Options.CacheDir);
        CacheTrust.Require(Options.CacheDir, "--cache-dir");
        KernelCache.ClearExported(Paths.OutDir, Options.Arch);
        RemoveFormerLayout();
        var host = PrepareHost();
        // The identity needs only the verified archive's sha256: look for a finished build before extracting anything.
        Acquired? acquired = null;
        var source = AcquireSource(verified => (acquired = LookUp(host, verified)).Cached is null);
        if (source.IsUnpacked)
        {
            var tree = source.Tree();
            _log.Info($"Linux {tree.Version} source tree at {tree.Directory}" + (tree.Reused ? " [cached]" : ""));
        }
        else
        {
            _log.Info($"Source archive verified, not unpacked: the cached kernel needs no tree ({source.Provenance.Origin}, sha256 {source.Provenance.Sha256[..12]})");
        }
        return acquired!;
    }

    /// <summary>The build's identity from the verified source, then the kernel cache and the remote cache.</summary>
    private Acquired LookUp(HostReady host, VerifiedSource source)
    {
        _log.Info($"Linux {source.Version} from {source.Provenance.Provider} ({source.Provenance.Origin})");
        var baseConfig = File.Exists(Options.BaseConfig) ? "file:" + SourceCache.FileSha256(Options.BaseConfig) : Options.BaseConfig;
        var identity = CacheIdentity.For(Target.Recipe, Target.ConfigVersion, source.Provenance.Sha256,
            host.Runtime.DescribeCompiler(Options.Arch, Options.Toolchain, _log), baseConfig, host.Runtime.IdentityText);
        _log.Info($"Cache key {Target.CacheKey}, identity {identity.ShortHash}");
        if (Options.NoCache)
        {
            _log.Info("--no-cache: the kernel will be rebuilt");
            return new Acquired(host, source, identity, null, "skipped");
        }
        if (source.Provenance.IsLocalTree)
        {
            // A developer's tree changes without a new commit; make's own dependency tracking decides what to rebuild.
            _log.Info($"{source.Provenance.Origin} is your own tree and may have changed since the last build: not looking it up in the kernel cache (make rebuilds only what changed)");
            return new Acquired(host, source, identity, null, "skipped");
        }

        var local = new KernelCache(Options.CacheDir);
        if (local.Find(identity, _log) is { } hit) return new Acquired(host, source, identity, hit, "local");
        if (_remote.Value is { } remote)
        {
            // Runs sharing a cache dir pull once: whoever waited on the lock finds the entry the other pulled.
            using (CacheLock.Acquire(Paths.PullLock(identity.EntryName), _log))
            {
                if (local.Find(identity, _log) is { } other) return new Acquired(host, source, identity, other, "local");
                if (remote.TryPull(identity, local) is { } pulled) return new Acquired(host, source, identity, pulled, "pulled");
            }
        }
        _log.Info($"No cached kernel for {identity.EntryName}: BuildKernel will compile it");
        return new Acquired(host, source, identity, null, "miss");
    }

    /// <summary>A cache from before working trees holds gigabytes nothing reads any more.</summary>
    private void RemoveFormerLayout()
    {
        foreach (var dir in Paths.FormerLayout.Where(Directory.Exists))
        {
            _log.Info($"Removing {dir}: patched trees and build directories now live in {Paths.Work}, one pair per build");
            try
            {
                SourceCache.DeleteDirectory(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Warning($"Could not remove {dir} ({e.Message}); nothing uses it, remove it by hand");
            }
        }
    }

    public Patched Patch(Acquired acquired)
    {
        var series = KernelTarget.Patches(Options, Target.Version);
        PatchLint.ThrowIfProblems(series);
        var source = acquired.Source;
        var buildDir = BuildDirectory;
        // The working tree belongs to its build directory: the lock Configure and make hold covers switching it too.
        HoldBuildLock(buildDir);
        try
        {
            // A local tree is known by its path: a commit or edit there gives the changed files new mtimes, which make sees.
            var local = source.Provenance.IsLocalTree;
            var pristine = source.Tree().Directory;
            var tree = new PatchApplier(_log).Apply(series, pristine, KilnPaths.WorkingTree(buildDir),
                local ? pristine : source.Provenance.Sha256, pristineMayChange: local, discardObjects: () =>
                {
                    if (!Directory.Exists(buildDir)) return;
                    _log.Warning($"Removing {buildDir}: its tree changed in a way make cannot see (another source, no recorded state, or a symlink), so its objects cannot be trusted");
                    SourceCache.DeleteDirectory(buildDir);
                });
            if (series.IsEmpty) _log.Info($"No patches for {Target.Version.SeriesName}.x; building the pristine tree");
            // A local tree's Kconfig files may have changed under the same path: always reconfigure those.
            return new Patched(acquired, tree, new Workspace(tree.Path, buildDir, Target.LocalVersion, Paths.BuildLog,
                Reconfigure: local, acquired.Host, BuildTimestampFile: Path.Combine(pristine, "Makefile")));
        }
        catch
        {
            ReleaseBuildLock(buildDir);
            throw;
        }
    }

    public Configured Configure(Workspace workspace, CancellationToken cancellation = default)
    {
        var watch = Stopwatch.StartNew();
        var fragments = KernelTarget.Fragments(Options);
        if (Options.KUnitRun is not null) KUnitRequest.RequireIn(workspace.SourceDir);
        if (Options.KselftestTargets.Count > 0)
        {
            // Named before anything is built; their fragments come from the tree, which names the selftests it has.
            Kselftests.Check(workspace.SourceDir, Options.KselftestTargets);
            fragments = Kselftests.WithFragments(fragments, workspace.SourceDir, Options.KselftestTargets);
        }
        var allowList = KernelTarget.AllowedDrops(Options, Target.Version);
        var baseConfig = Options.BaseConfig;
        // Before the tree is read: another run may switch it until this run holds its build directory's lock.
        HoldBuildLock(workspace.BuildDir);
        try
        {
            var inputs = ConfigureStamp.InputsHash(workspace.SourceDir, fragments, baseConfig, allowList);
            if (!workspace.Reconfigure && ConfigureStamp.IsCurrent(workspace.BuildDir, inputs))
            {
                _log.Info($"Configure: {workspace.BuildDir}/.config is current (same tree, fragments and base config) and was verified");
                return new Configured(workspace, fragments, watch.Elapsed);
            }
            ConfigureStamp.Clear(workspace.BuildDir);
            ToolchainCheck.Require(Options.Toolchain, Options.Arch, workspace.SourceDir, workspace.Host.Runtime, _log);
            var result = new KernelConfigurator(_log).Configure(new ConfigureRequest(workspace.SourceDir, workspace.BuildDir, Options.Arch, fragments)
            {
                BaseConfig = baseConfig,
                AllowList = allowList,
                Runtime = workspace.Host.Runtime,
                Toolchain = Options.Toolchain,
            }, cancellation);
            result.Verification.ThrowIfFailed();
            ConfigureStamp.Write(workspace.BuildDir, inputs);
            _log.Info($"Configured {workspace.BuildDir}: {result.Verification.Checked.Count} requested options from {fragments.Fragments.Count} fragments all hold");
            return new Configured(workspace, fragments, watch.Elapsed);
        }
        catch
        {
            ReleaseBuildLock(workspace.BuildDir);
            throw;
        }
    }

    /// <summary>make in the configured workspace: the runtime, ccache, and the distcc farm probed right before make.</summary>
    public (BuiltKernel Kernel, BuildDistribution Distribution) Compile(Configured configured)
    {
        var workspace = configured.Workspace;
        var distribution = PlanDistribution();
        HoldBuildLock(workspace.BuildDir);
        try
        {
            return (KernelBuilder.Build(new BuildRequest(workspace.SourceDir, workspace.BuildDir, Options.Arch, workspace.LocalVersion, distribution.Jobs,
                Paths.Ccache, workspace.BuildLog, distribution, workspace.Host.Runtime, workspace.BuildTimestampFile, Toolchain: Options.Toolchain), _log), distribution);
        }
        finally
        {
            ReleaseBuildLock(workspace.BuildDir);
        }
    }

    /// <summary>
    /// Configure → make is one critical section per build directory: with a lock per step, another run could reconfigure
    /// the directory between this run's Configure and its make, and this run would build (and store under its own
    /// identity) a kernel of the other run's .config. Configure takes the lock and keeps it; make (or the process's end) releases it.
    /// </summary>
    private void HoldBuildLock(string buildDir)
    {
        var path = Paths.BuildLock(buildDir);
        if (!_buildLocks.ContainsKey(path)) _buildLocks[path] = CacheLock.Acquire(path, _log);
    }

    private void ReleaseBuildLock(string buildDir)
    {
        if (_buildLocks.Remove(Paths.BuildLock(buildDir), out var held)) held.Dispose();
    }

    /// <summary>The build directory (O=) of this run's options: named by everything that changes what make leaves in it.</summary>
    public string BuildDirectory => Paths.BuildDirectory(Target.Version.ToString(), Options.Arch, Options.Variant, Options.Runtime,
        Options.BuildType, Options.ConfGuest, BaseConfigName(), Options.KselftestTargets, Options.Toolchain);

    /// <summary>
    /// The base config's part of the build directory's name: empty for the default tinyconfig, the make target otherwise, and for a file the start of its sha256, since its contents make the .config.
    /// </summary>
    private string BaseConfigName() =>
        File.Exists(Options.BaseConfig) ? "file-" + SourceCache.FileSha256(Options.BaseConfig)[..12]
        : Options.BaseConfig == DefaultBaseConfig ? "" : Options.BaseConfig;

    private const string DefaultBaseConfig = "tinyconfig";

    public Built Build(Patched patched, Configured configured)
    {
        var acquired = patched.Acquired;
        var (built, distribution) = Compile(configured);
        if (built.Release != Target.CacheKey)
            _log.Warning($"The release is {built.Release}, not the cache key {Target.CacheKey}: the tree's Makefile sets EXTRAVERSION or CONFIG_LOCALVERSION is set");

        var arch = Options.Arch;
        var files = EntryFilesOf(built);
        var toolchain = new Dictionary<string, string>
        {
            ["name"] = Options.Toolchain.Name,
            ["compiler"] = acquired.Host.Runtime.DescribeCompiler(arch, Options.Toolchain, _log),
            ["ccache"] = "ccache " + Paths.Ccache,
            ["jobs"] = distribution.Jobs.ToString(),
        };
        var durations = new Dictionary<string, double>
        {
            ["configure"] = Math.Round(configured.Duration.TotalSeconds, 1),
            ["build"] = Math.Round(built.Duration.TotalSeconds, 1),
        };
        var identity = acquired.Identity;
        var kernel = new KernelCache(Options.CacheDir).Store(identity, files, hashes => new BuildMetadata(
            Target.CacheKey, identity.Hash, Target.Recipe.Hash, Target.Version.ToString(), built.Release, arch.Name,
            Options.Variant, Options.BaseConfig, acquired.Source.Provenance, toolchain, durations, hashes,
            KernelTarget.Patches(Options, Target.Version).Patches.Select(p => p.FileName).ToList(),
            configured.Fragments.Fragments.Select(f => f.DisplayName).ToList(), distribution, acquired.Host.Runtime.Metadata), _log);
        KernelCache.Export(kernel, Paths.OutDir);
        return new Built(acquired, kernel, FromCache: false, Paths.OutDir);
    }

    /// <summary>A build's artifacts by the name they have in a cache entry.</summary>
    private Dictionary<string, string> EntryFilesOf(BuiltKernel built)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [EntryFiles.Image(Options.Arch)] = built.Image,
            [EntryFiles.Vmlinux] = built.Vmlinux,
            [EntryFiles.SystemMap] = built.SystemMap,
            [EntryFiles.Config] = built.Config,
        };
        foreach (var (name, path) in built.Extras) files[name] = path;
        return files;
    }

    public ReproduceReport Reproduce(Built built)
    {
        // The rebuild's other user, host name and clock are set on this host's make; a container has its own of each.
        if (Options.InContainer)
            throw KilnException.BadInput("--runtime=docker: Reproduce rebuilds on this host only (its other user, host name and clock are set around the host's make). Run it without --runtime.");
        Prerequisites.Ensure(Prerequisites.ForReproduce, Options.MayInstall, _log);
        // Patch again even after a build in this run: make released the build directory's lock, and another run may have
        // switched the working tree since. Patch takes the lock back and brings the tree to this run's series.
        var workspace = Patch(built.Acquired).Workspace;
        return new Reproducer(_log).Run(built.Kernel, workspace.SourceDir, Paths, place =>
        {
            var elsewhere = new Workspace(place.SourceDir, place.BuildDir, workspace.LocalVersion, place.BuildLog, Reconfigure: true, workspace.Host);
            Configure(elsewhere);
            try
            {
                // Local make, ccache off: every object is compiled again, and a distcc farm would add its own machines.
                return EntryFilesOf(KernelBuilder.Build(new BuildRequest(place.SourceDir, place.BuildDir, Options.Arch, workspace.LocalVersion, Options.Jobs,
                    CcacheDir: null, place.BuildLog, TimestampFile: workspace.BuildTimestampFile, WrapMake: place.Disguise.Wrap, Toolchain: Options.Toolchain), _log));
            }
            finally
            {
                ReleaseBuildLock(place.BuildDir);
            }
        });
    }

    public Built Reuse(Acquired acquired)
    {
        var hit = acquired.Cached ?? throw new InvalidOperationException("Reuse needs a cache hit; Build compiles a miss");
        KernelCache.Export(hit, Paths.OutDir);
        _log.Info($"Cache hit: Linux {hit.Metadata.Release} ({acquired.Identity.ShortHash}) from {hit.Directory} copied to {Paths.OutDir}");
        return new Built(acquired, hit, FromCache: true, Paths.OutDir);
    }

    public Booted Boot(Built built)
    {
        var kernel = built.Kernel;
        var request = new BootRequest(kernel.File(EntryFiles.Image(Options.Arch)), kernel.Metadata.Release, Paths.Boot,
            KernelTarget.Patches(Options, Target.Version).BootExpectations, built.Acquired.Host.Busybox);
        return new Booted(built, BootTest(request));
    }

    /// <summary>
    /// Boots in QEMU and judges the boot: every requested config option, the machine's devices, the expected messages,
    /// --machine, --smp, --memory, --test, --timeout, --append.
    /// </summary>
    public BootTestResult BootTest(BootRequest request, CancellationToken cancellation = default)
    {
        _log.Info($"Booting Linux {request.Release} in QEMU ({Options.Arch.QemuBinary})");
        return new BootTester(_log).Run(new BootTestSpec
        {
            KernelPath = request.Image,
            OutputDirectory = request.OutputDirectory,
            Arch = Options.Arch,
            ExpectedRelease = request.Release,
            ConfigOptions = KernelTarget.Fragments(Options).Requested.Select(o => o.Display).ToList(),
            ExpectedMessages = request.ExpectedMessages,
            TestScripts = Options.Tests,
            WritableDirectory = Options.WritableDirectory,
            Timeout = Options.Timeout,
            ExtraKernelArgs = Options.ExtraKernelArguments,
            BusyboxPath = request.Busybox,
            Machine = Options.Machine,
            KUnit = Options.KUnitRun,
        }, cancellation);
    }

    public GuestSessionResult Session(Built built, Stream output, Stream error)
    {
        var kernel = built.Kernel;
        var gdbPort = Options.Gdb ? GuestSession.FreeLocalPort() : (int?)null;
        if (gdbPort is { } port)
            _log.Info($"The guest starts halted, waiting for gdb on 127.0.0.1:{port}. Attach with:{Environment.NewLine}  {GdbCommand(kernel, port)}" +
                      $"{Environment.NewLine}then, for example, hbreak start_kernel and continue (the kernel runs without KASLR, so its symbols are where vmlinux says).");
        var terminal = Options.Exec is null ? GuestSession.TerminalSize(_log) : null;
        _log.Info($"Booting Linux {kernel.Metadata.Release} ({Options.Arch.QemuBinary}) to run " +
                  (Options.Exec is { } command ? $"'{command}'" : "a shell") + $" in {Environment.CurrentDirectory}");
        return new GuestSession(_log, output, error).Run(SessionSpec(built, Options.Exec, Environment.CurrentDirectory, Paths.Session) with
        {
            GdbPort = gdbPort,
            TerminalSize = terminal,
            Terminal = Environment.GetEnvironmentVariable("TERM"),
        });
    }

    /// <summary>The guest session of the built kernel on the options' machine, --append and --timeout, running <paramref name="command"/> (null: a shell) in <paramref name="workingDirectory"/>.</summary>
    private GuestSessionSpec SessionSpec(Built built, string? command, string workingDirectory, string outputDirectory) => new()
    {
        KernelPath = built.Kernel.File(EntryFiles.Image(Options.Arch)),
        Arch = Options.Arch,
        Machine = Options.Machine,
        BusyboxPath = built.Acquired.Host.Busybox,
        Command = command,
        WorkingDirectory = workingDirectory,
        OutputDirectory = outputDirectory,
        ExtraKernelArgs = Options.ExtraKernelArguments,
        Timeout = Options.Timeout,
    };

    public KselftestOutcome Kselftest(Built built, Stream output, Stream error)
    {
        var targets = Options.KselftestTargets;
        if (!Options.Arch.IsHost)
            throw KilnException.BadInput($"--kselftest builds the selftests on this host and runs them with its libraries in the guest, so the guest must have the " +
                                         $"host's arch ({System.Runtime.InteropServices.RuntimeInformation.OSArchitecture}), not {Options.Arch.Name}.");
        var runner = new KselftestRunner(_log, output, error);
        var buildLog = Path.Combine(Paths.Kselftest, "build.log");
        string install;
        // This build's tree, under its build directory's lock: Patch takes the lock back (make released it) and brings the tree to the series.
        var workspace = Patch(built.Acquired).Workspace;
        try
        {
            Kselftests.Check(workspace.SourceDir, targets);
            install = runner.Build(workspace.SourceDir, KilnPaths.KselftestObjects(workspace.BuildDir), Options.Arch, targets, Options.Jobs,
                Path.Combine(Paths.Kselftest, "install"), buildLog);
        }
        finally
        {
            ReleaseBuildLock(workspace.BuildDir);
        }
        var kernel = built.Kernel;
        _log.Info($"Running the kselftests {string.Join(", ", targets)} in Linux {kernel.Metadata.Release} with run_kselftest.sh");
        return runner.Run(SessionSpec(built, "./run_kselftest.sh", install, Paths.Kselftest), targets, kernel.Metadata.Release, buildLog,
            kernel.File(EntryFiles.Config));
    }

    /// <summary>gdb on the entry's vmlinux, attached to the stub, with the kernel's gdb helpers when the build made them.</summary>
    private string GdbCommand(CachedKernel kernel, int port)
    {
        var args = new List<string> { "gdb" };
        var helpers = Path.Combine(BuildDirectory, "vmlinux-gdb.py");
        if (File.Exists(helpers) && File.ReadLines(kernel.File(EntryFiles.Config)).Contains("CONFIG_GDB_SCRIPTS=y"))
            args.AddRange(["-iex", $"add-auto-load-safe-path {BuildDirectory}", "-ex", $"source {helpers}"]);
        args.AddRange(["-ex", $"target remote 127.0.0.1:{port}", kernel.File(EntryFiles.Vmlinux)]);
        return string.Join(' ', args.Select(Processes.Command.Quote));
    }

    public bool? Share(Booted booted)
    {
        var acquired = booted.Built.Acquired;
        // Only a kernel that built and booted is shared; one pulled in this run is there already, and a local
        // tree's build is not named by its identity (the tree changes in place), so it is never shared.
        if (!booted.Result.Passed || _remote.Value is not { } remote || acquired.Pulled || acquired.Source.Provenance.IsLocalTree) return null;
        return remote.Push(booted.Built.Kernel, acquired.Identity);
    }

    public Packaged Package(Booted booted)
    {
        // What is packaged is the cache entry BootTest passed.
        var result = KernelPackager.Package(new PackageRequest(booted.Built.Kernel, EntryFiles.Image(Options.Arch), Paths.Package,
            Path.Combine(Options.RepoRoot, "stage1", "manifest.json.in"), Options.KataPrefix, Target.KataDestDir), _log);
        var oci = $"oci:{result.Oci.Directory}:{result.Oci.Tag}";
        var inspected = InspectWithSkopeo(oci, result.Oci);
        if (Options.PushRegistry is not { } registry) return new Packaged(booted, result, oci, inspected, null);

        using var client = new OciRegistryClient(registry, Options.PushCredentials, credentialVariables: RegistryCredentials.PushVariables);
        try
        {
            var pushed = OciImagePush.PushAsync(result.Oci, RegistryTags.Of(booted.Built.Kernel.Metadata).Index, registry, client).GetAwaiter().GetResult();
            _log.Info($"Pushed {pushed.ArchReference} ({result.Oci.ManifestDigest}); the index {pushed.IndexReference} lists " +
                      string.Join(", ", pushed.Index.Manifests.Select(m => m.Platform?.ToString() ?? m.Digest)));
            return new Packaged(booted, result, oci, inspected, pushed);
        }
        catch (Exception e) when (e is RegistryUnavailableException or InvalidArtifactException)
        {
            throw KilnException.Infrastructure($"Pushing {oci} to {registry} failed: {e.Message}", e);
        }
    }

    /// <summary>skopeo's reading of the layout, which must name the manifest Kiln wrote; null (with a warning) without skopeo.</summary>
    private SkopeoImageInfo? InspectWithSkopeo(string oci, OciImage image)
    {
        if (!Skopeo.IsInstalled)
        {
            _log.Warning("skopeo is not installed (apt-get install skopeo): the OCI layout was checked by Kiln only, not by skopeo inspect");
            return null;
        }
        var inspected = new Skopeo(_log).Inspect(oci);
        if (inspected.Digest != image.ManifestDigest)
            throw KilnException.KernelFailed($"skopeo inspect {oci} reports {inspected.Digest}, but the layout's manifest is {image.ManifestDigest}");
        _log.Info($"skopeo inspect {oci}: {inspected.Os}/{inspected.Architecture}, {inspected.Layers.Count} layer, digest {inspected.Digest}");
        return inspected;
    }

    /// <summary>checkpatch and sparse on the series; sparse needs the patched, configured tree even when the kernel is cached.</summary>
    public AnalysisResult Analyze(Acquired acquired, Patched? patched)
    {
        var series = KernelTarget.Patches(Options, Target.Version);
        Prerequisites.Ensure(Prerequisites.ForAnalysis, Options.MayInstall, _log);
        if (acquired.Source.Provenance.IsLocalTree)
            throw KilnException.BadInput("Analyze checks patches/ against a pristine tree; with --source=PATH the series is not applied. Run it with --source=auto.");
        var workspace = (patched ?? Patch(acquired)).Workspace;
        Configure(workspace);
        var build = new BuildRequest(workspace.SourceDir, workspace.BuildDir, Options.Arch, workspace.LocalVersion, Options.Jobs, Paths.Ccache, Paths.SparseLog,
            Toolchain: Options.Toolchain);
        try
        {
            return SeriesAnalyzer.Analyze(series, acquired.Source.Tree().Directory, build, Paths.Analysis, _log);
        }
        finally
        {
            ReleaseBuildLock(workspace.BuildDir);
        }
    }

    public ConfigCompared CompareConfig(Acquired acquired, Patched? patched)
    {
        var against = Options.Against ?? throw KilnException.BadInput("ConfigDiff needs --against=FILE: the .config to compare Kiln's with.");
        var theirs = KernelConfig.Load(against);
        if (theirs.Values.Count == 0) throw KilnException.BadInput($"--against={against}: not a kernel .config (no CONFIG_ lines).");

        // Like Analyze: a cache hit skips Patch and Configure in a build, but the diff needs the configured tree.
        // A .config whose verification failed is still worth comparing: the task shows the diff, then fails as Configure does.
        var workspace = (patched ?? Patch(acquired)).Workspace;
        KilnException? verificationFailure = null;
        try
        {
            Configure(workspace);
        }
        catch (KilnException e) when (e.ExitCode == ExitCodes.KernelFailed)
        {
            verificationFailure = e;
        }
        KernelConfig ours;
        try
        {
            ours = KernelConfig.Load(Path.Combine(workspace.BuildDir, ".config"));
        }
        finally
        {
            ReleaseBuildLock(workspace.BuildDir);
        }
        var index = KconfigIndex.Load(workspace.SourceDir, Options.Arch);
        var diff = ConfigDiff.Compare(ours, "Kiln's .config", theirs, against, index);
        diff.Write(Paths.ConfigDiff);
        return new ConfigCompared(diff, ours.Path ?? Path.Combine(workspace.BuildDir, ".config"), against, Paths.ConfigDiff, verificationFailure);
    }

    /// <summary>
    /// CacheKey: what kiln.lock says of this recipe at this config counter; with --update-lock the recipe is then
    /// recorded. Changed inputs under the same counter are exit 2 (caches keyed by it would serve a stale kernel).
    /// </summary>
    public LockCheck CheckLock(Action<LockCheck> report)
    {
        var recipe = Target.Recipe;
        var lockFile = LockFile.Load(Path.Combine(Options.RepoRoot, "kiln.lock"));
        var check = lockFile.Check(recipe, Target.ConfigVersion);
        report(check);
        if (Options.UpdateLock)
        {
            lockFile.Record(recipe, Target.ConfigVersion);
            lockFile.Save();
            _log.Info($"Recorded {recipe.LockName} at config version {Target.ConfigVersion} in {lockFile.Path}");
            return check;
        }
        switch (check.Status)
        {
            case LockStatus.ChangedWithoutBump:
                throw KilnException.BadInput(
                    $"The inputs of {recipe.LockName} changed but kata_config_version is still {Target.ConfigVersion}, " +
                    $"so caches keyed by {Target.CacheKey} would serve a stale kernel:\n  " + string.Join("\n  ", check.Changes) +
                    $"\nBump kata_config_version (to {Target.ConfigVersion + 1}), then run ./build.sh --target=CacheKey --update-lock and commit kiln.lock.");
            case LockStatus.NotRecorded or LockStatus.CounterBumped:
                _log.Warning($"kiln.lock has no record of {recipe.LockName} at config version {Target.ConfigVersion}; run ./build.sh --target=CacheKey --update-lock and commit kiln.lock.");
                break;
        }
        return check;
    }

    public BisectSessionResult Bisect(Func<string, IReadOnlyList<string>> stepCommand) => new BisectSession(this, _log).Run(stepCommand);

    public StepRecord BisectStep(BisectPlan plan) => new BisectStepRunner(this, _log).Run(plan);

    public ConfigBisectResult ConfigBisect(Acquired acquired, Patched? patched) => new ConfigSearchSession(this, _log).RunBisect(acquired, patched);

    public MinConfigResult MinConfig(Acquired acquired, Patched? patched) => new ConfigSearchSession(this, _log).RunMinConfig(acquired, patched);

    /// <summary>Probes the farm right before make, so the decision reflects the farm as it is now.</summary>
    private BuildDistribution PlanDistribution()
    {
        if (Options.DistccFarm is not { } farm) return BuildDistribution.Local(Options.Jobs);
        var plan = farm.Plan(farm.Probe(DistccFarm.DefaultProbeTimeout), Environment.ProcessorCount, Options.RequestedJobs, _log);
        return plan.IsDistributed ? plan with { EngineVersion = DistccFarm.EngineVersion(_log) } : plan;
    }
}
