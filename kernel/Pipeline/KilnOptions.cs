using System.Reflection;
using System.Text.RegularExpressions;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Build.Distribution;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Parsing;
using Kiln.Kernel.Sources;
using Kiln.Kernel.RemoteCache;

namespace Kiln.Kernel.Pipeline;

/// <summary>
/// Declares a command-line argument on the <see cref="KilnOptions"/> property that holds its value: its name, the
/// --help text, the value's placeholder (none for a flag), the default --help shows, and the environment variable
/// read when the argument is not given. A new argument is one property with this attribute.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ArgumentAttribute(string name, string description) : Attribute
{
    public string Name { get; } = name;
    public string Description { get; } = description;
    public string? ValueName { get; init; }
    public string? Default { get; init; }
    public string? Environment { get; init; }
    /// <summary>The largest value a number argument takes (the smallest is 1); a larger one is exit 2 naming the range.</summary>
    public int Maximum { get; init; } = int.MaxValue;
    /// <summary>The value may be left out (<c>--name</c> alone reads "true"): --help shows <c>--name[=VALUE]</c>.</summary>
    public bool ValueOptional { get; init; }
}

/// <summary>
/// Everything the user asked for, parsed once from the arguments and the environment and validated (exit 2 with the
/// option named); immutable. Stages read it; nothing here does more I/O than checking named paths (kind, writable,
/// not a pseudo-filesystem; see <see cref="PathArgument"/>) and reading the host's memory size.
/// </summary>
public sealed partial record KilnOptions
{
    public const string DockerRuntime = "docker";
    /// <summary>make -j beyond this only costs memory: distcc farms in practice stay far below it.</summary>
    public const int MaxJobs = 1024;
    public const int MaxTimeoutSeconds = 24 * 60 * 60;
    /// <summary>Bounds --smp; a count the profile's QEMU machine cannot take still fails when QEMU starts.</summary>
    public const int MaxSmp = 1024;
    public const int MaxRepeat = 100;

    /// <summary>The Kiln repository: versions.yaml, patches/, configs/ (KILN_ROOT, else found upwards).</summary>
    public required string RepoRoot { get; init; }

    [Argument("kernel", "Kernel series (6.1) or exact release (6.1.150) from versions.yaml.", ValueName = "VERSION", Default = "versions.yaml's assets.kernel.version")]
    public string? Kernel { get; init; }

    [Argument("arch", "Target architecture: x86_64, arm64, s390x, ppc64le or riscv64 (also Kata's names: aarch64, s390, powerpc, riscv); an arch other than the host's is cross-built with Debian's gcc-<triplet> and booted under QEMU TCG.", ValueName = "ARCH", Default = "x86_64")]
    public Arch Arch { get; init; } = Arch.X86_64;

    [Argument("toolchain", "Compilers: gcc (Debian's gcc, gcc-<triplet> for another arch) or clang (Debian's clang, lld and llvm; make LLVM=1 LLVM_IAS=1). " +
                           "Part of the build identity, metadata.json, the build directory and the default --out, not of the cache key.", ValueName = "NAME", Default = "gcc")]
    public Toolchain Toolchain { get; init; } = Toolchain.Gcc;

    [Argument("variant", "Build variant: dbg adds configs/fragments/debug; the key and release get the suffix.", ValueName = "NAME", Default = "none")]
    public string Variant { get; init; } = "";

    [Argument("source", "Where the source comes from: auto (versions.yaml order), kernel.org, debian, or a PATH to a kernel tree.", ValueName = "SOURCE", Default = "auto")]
    public string Source { get; init; } = "auto";

    [Argument("mirror", "Base URL of a kernel.org-layout mirror (env KILN_MIRROR).", ValueName = "URL", Environment = "KILN_MIRROR")]
    public string? Mirror { get; init; }

    [Argument("keyring", "gpg keyring to verify the signature of sha256sums.asc with gpgv (env KILN_KEYRING).", ValueName = "FILE", Environment = "KILN_KEYRING")]
    public string? Keyring { get; init; }

    [Argument("jobs", "Parallel make jobs (at most 1024).", ValueName = "N", Default = "number of CPUs; with --distcc-hosts the hosts' limits plus the local CPUs", Maximum = MaxJobs)]
    public int? RequestedJobs { get; init; }

    [Argument("distcc-hosts", "BuildKernel: compile through a distcc farm behind ccache (env KILN_DISTCC_HOSTS), e.g. '10.0.0.5/8,lzo 10.0.0.6:3633/4'. " +
                              "Unreachable hosts are left out; none reachable builds locally.", ValueName = "HOSTS", Environment = "KILN_DISTCC_HOSTS")]
    public string? DistccHosts { get; init; }

    [Argument("runtime", "Where Configure and BuildKernel run make and the compiler (env KILN_RUNTIME): host, or docker " +
                         "(in Kiln's builder image made with debootstrap from containers/builder/packages; needs a running dockerd). " +
                         "The runtime and image join the cache identity.", ValueName = "RUNTIME", Default = "host", Environment = "KILN_RUNTIME")]
    public string Runtime { get; init; } = BuildRuntime.HostName;

    [Argument("builder-mirror", "--runtime=docker: the Debian mirror debootstrap makes the builder image from (env KILN_BUILDER_MIRROR); part of the image tag.",
        ValueName = "URL", Default = BuilderImageRecipe.DefaultMirror, Environment = "KILN_BUILDER_MIRROR")]
    public string BuilderMirror { get; init; } = BuilderImageRecipe.DefaultMirror;

    [Argument("out", "Directory for artifacts and reports.", ValueName = "DIR", Default = "artifacts/<key>-<arch>/ (with --toolchain=clang: artifacts/<key>-<arch>-clang/)")]
    public string? Out { get; init; }

    [Argument("cache-dir", "Cache of sources, builds and ccache (env KILN_CACHE_DIR).", ValueName = "DIR", Default = "~/.cache/kiln", Environment = "KILN_CACHE_DIR")]
    public string CacheDir { get; init; } = Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".cache", "kiln");

    [Argument("no-cache", "Do not reuse a cached kernel build (sources and ccache are still used).")]
    public bool NoCache { get; init; }

    [Argument("install-deps", "Install missing Debian packages with apt-get (the default when running as root).")]
    public bool InstallDeps { get; init; }

    [Argument("update-lock", "CacheKey: record the current inputs for this config version in kiln.lock.")]
    public bool UpdateLock { get; init; }

    [Argument("base-config", "Base config the fragments meet. allnoconfig and tinyconfig (the kernel's tiny fragments first) merge as Kata's build-kernel.sh " +
                             "(merge_config.sh -n: the fragments are KCONFIG_ALLCONFIG of allnoconfig, options they do not set are off); any other make target (defconfig) " +
                             "or a config FILE gets merge_config.sh -m then olddefconfig (options they do not set keep the base's value or their Kconfig default).",
        ValueName = "CONFIG", Default = "tinyconfig")]
    public string BaseConfig { get; init; } = "tinyconfig";

    [Argument("build-type", "Also merge Kata's configs/fragments/build-type/NAME/**/*.conf (build-kernel.sh -b NAME); exit 2 when the folder is missing. " +
                            "Part of the build identity, not of the cache key: give --out per build type.", ValueName = "NAME", Default = "none")]
    public string BuildType { get; init; } = "";

    [Argument("conf-guest", "Confidential guest as Kata's build-kernel.sh -x: leave out common fragments tagged !TYPE, add configs/fragments/<arch>/TYPE/*.conf " +
                            "and common/confidential_containers/tmpfs.conf (--conf-guest=confidential). Part of the build identity, not of the cache key.",
        ValueName = "TYPE", Default = "none")]
    public string ConfGuest { get; init; } = "";

    [Argument("against", "ConfigDiff: the .config to compare Kiln's with (e.g. the one your old pipeline made); the options set in only one, grouped by Kconfig menu.", ValueName = "FILE")]
    public string? Against { get; init; }

    [Argument("timeout", "BootTest, Run: seconds before a hung guest is killed (at most 86400, a day).", ValueName = "SECONDS",
        Default = "BootTest: 60 with KVM, 120 under TCG; Run: none", Maximum = MaxTimeoutSeconds)]
    public int? TimeoutSeconds { get; init; }

    [Argument("download-timeout", "Setup: seconds a mirror may send nothing (no headers, no data) before its download fails with exit 3 (at most 86400; env KILN_DOWNLOAD_TIMEOUT).",
        ValueName = "SECONDS", Default = "60", Environment = "KILN_DOWNLOAD_TIMEOUT", Maximum = MaxTimeoutSeconds)]
    public int? DownloadTimeoutSeconds { get; init; }

    [Argument("test", "BootTest, Bisect: a shell script to run in the guest; it passes when it exits 0 (repeatable). In Bisect the scripts alone decide good or bad.", ValueName = "FILE")]
    public IReadOnlyList<string> Tests { get; init; } = [];

    [Argument("rwdir", "BootTest, Bisect: a host directory the --test scripts may write, shared read-write over 9p and found at $KILN_RWDIR in the guest " +
                       "(results to keep, or state a test carries from boot to boot).", ValueName = "DIR")]
    public string? WritableDirectory { get; init; }

    [Argument("append", "BootTest, Run, Shell: extra kernel command line.", ValueName = "ARGS")]
    public string Append { get; init; } = "";

    [Argument("kunit", "BootTest: build the kunit variant (KUnit and every suite the guest config allows, configs/fragments/kunit/), run the suites " +
                       "that match GLOB (kunit.filter_glob: SUITE or SUITE.CASE, * wildcards; all when left out) and judge each case from the KTAP on the console: " +
                       "one check per case in results.json and the JUnit XML, exit 1 when a case fails. With --variant=NAME, that variant's config must enable KUnit itself.",
        ValueName = "GLOB", ValueOptional = true)]
    public string? KUnit { get; init; }

    /// <summary>--kunit parsed: null when not asked for.</summary>
    public Kiln.Kernel.KUnit.KUnitRequest? KUnitRun { get; private init; }

    [Argument("kselftest", "Kselftest: the kernel selftest TARGETS to build (make -C tools/testing/selftests TARGETS=… install) and run in the guest " +
                           "with the kernel's runner, comma-separated (timers,size). Their config fragments (tools/testing/selftests/TARGET/config) join " +
                           "the kernel's config, so it is built for them (an identity and build directory of its own); an option that drops fails Configure.",
        ValueName = "TARGETS")]
    public string? Kselftest { get; init; }

    /// <summary>--kselftest split, in the order given, without repeats.</summary>
    public IReadOnlyList<string> KselftestTargets { get; private init; } = [];

    [Argument("exec", "Run: the command the guest runs (sh -c, as root, in the current directory shared read-write, with the host's root file system " +
                      "read-only beneath it); its output streams to the host and its exit status is Kiln's. Also given as -- CMD ARGS… at the end.", ValueName = "COMMAND")]
    public string? Exec { get; init; }

    [Argument("gdb", "Run, Shell: start the guest halted with QEMU's gdb stub on a free local port (KASLR off) and print the gdb command that attaches to it.")]
    public bool Gdb { get; init; }

    [Argument("machine", "BootTest, Bisect, Run, Shell: the machine profile QEMU boots, with its virtio devices attached and checked by the guest " +
                         "(the profiles are in kernel/Boot/MachineProfile.cs; an unknown name lists the arch's).", ValueName = "NAME", Default = "q35 on x86_64, virt on arm64")]
    public string? MachineName { get; init; }

    [Argument("smp", "BootTest, Bisect, Run, Shell: the guest's vCPUs; the guest must see them all (nproc) when its kernel has CONFIG_SMP.", ValueName = "N", Default = "2", Maximum = MaxSmp)]
    public int? Smp { get; init; }

    [Argument("memory", "BootTest, Bisect, Run, Shell: the guest's memory with a unit (512M, 2G); its MemTotal must be within 10%.", ValueName = "SIZE", Default = "2G")]
    public MemorySize? Memory { get; init; }

    [Argument("prefix", "PackageStage1: Kata install prefix; files go to DESTDIR/PREFIX/share/kata-containers.", ValueName = "DIR", Default = "/usr")]
    public string KataPrefix { get; init; } = "/usr";

    [Argument("destdir", "PackageStage1: staging root of the Kata install layout (env DESTDIR).", ValueName = "DIR", Default = "<out>/kata", Environment = "DESTDIR")]
    public string? KataDestDir { get; init; }

    [Argument("push", "PackageStage1: push the OCI image to this repository as <key>-<arch> and add it to the multi-arch index <key> " +
                      "(--toolchain=clang: <key>-clang-<arch> and the index <key>-clang) " +
                      "(docker://HOST/REPO, or env KILN_PUSH, which CI sets on the branch that publishes; credentials from KILN_PUSH_USER/_PASSWORD, " +
                      "else from skopeo/podman/docker login, when it asks).", ValueName = "REPO", Environment = "KILN_PUSH")]
    public string? PushRepository { get; init; }

    [Argument("push-insecure", "PackageStage1: push over plain HTTP (a local registry).")]
    public bool PushInsecure { get; init; }

    [Argument("cache-registry", "Remote kernel cache in an OCI registry (env KILN_CACHE_REGISTRY; credentials from KILN_CACHE_REGISTRY_USER/_PASSWORD when it asks): " +
                                "Setup pulls the verified kernel for this identity, BootTest pushes it after a pass; an unreachable registry only warns.",
        ValueName = "HOST[:PORT]/REPO", Environment = "KILN_CACHE_REGISTRY")]
    public string? CacheRegistry { get; init; }

    [Argument("ci-output", "Append key=value lines for CI (cache key, cache status, artifact and result paths) to FILE (env KILN_CI_OUTPUT; $GITHUB_OUTPUT too when set).",
        ValueName = "FILE", Environment = "KILN_CI_OUTPUT")]
    public string? CiOutput { get; init; }

    [Argument("matrix-arches", "Matrix: the arches of the jobs, comma-separated (x86_64,arm64; Kata's names and aliases too). Not given, --arch=ARCH narrows the matrix to ARCH.",
        ValueName = "ARCHES", Default = "every arch")]
    public string? MatrixArches { get; init; }

    /// <summary>--matrix-arches parsed, in <see cref="Arch.All"/>'s order; empty when not given.</summary>
    public IReadOnlyList<Arch> MatrixArchFilter { get; private init; } = [];

    [Argument("matrix-toolchains", "Matrix: the toolchains of the jobs, comma-separated (gcc,clang); each clang job is one more build of its arch. " +
                                   "Not given, --toolchain=NAME narrows the matrix to NAME.", ValueName = "TOOLCHAINS", Default = "gcc")]
    public string? MatrixToolchains { get; init; }

    /// <summary>--matrix-toolchains parsed, in <see cref="Toolchain.All"/>'s order; empty when not given.</summary>
    public IReadOnlyList<Toolchain> MatrixToolchainFilter { get; private init; } = [];

    [Argument("repo", "Bisect: the kernel git repository to bisect (it is not modified; steps run in a separate worktree).", ValueName = "PATH")]
    public string? BisectRepo { get; init; }

    [Argument("good", "Bisect: a commit, tag or branch known to work (must be an ancestor of --bad).", ValueName = "REF")]
    public string? BisectGood { get; init; }

    [Argument("bad", "Bisect: a commit, tag or branch known to fail.", ValueName = "REF")]
    public string? BisectBad { get; init; }

    [Argument("patches", "Bisect: find the first patch of patches/<series>.x/ that breaks the boot, instead of a --repo range.")]
    public bool BisectPatches { get; init; }

    [Argument("repeat", "Bisect: boot each step N times (one build); a step is good only when every boot passes and bad when any fails, and a step whose " +
                        "boots disagree is reported as flaky. Raise it when the failure does not happen on every boot.", ValueName = "N", Default = "1", Maximum = MaxRepeat)]
    public int? Repeat { get; init; }

    [Argument("bisect-plan", "BisectStep (run by Bisect through git bisect run): the plan file Bisect wrote.", ValueName = "FILE")]
    public string? BisectPlanPath { get; init; }

    [Argument("good-config", "ConfigBisect: a kernel .config that builds and passes BootTest (and the --test scripts) on the tree --kernel or --source gives.", ValueName = "FILE")]
    public string? GoodConfig { get; init; }

    [Argument("bad-config", "ConfigBisect: a .config for the same tree that fails; the options that differ from --good-config are bisected to the one that breaks it.", ValueName = "FILE")]
    public string? BadConfig { get; init; }

    [Argument("config", "MinConfig: the config to shrink.", ValueName = "FILE", Default = "the .config Configure makes for the target")]
    public string? StartConfig { get; init; }

    [Argument("max-steps", "MinConfig: build at most N configs in this run (at least 1); the next run resumes from the state under --cache-dir.", ValueName = "N")]
    public int? MaxSteps { get; init; }

    /// <summary>The target that runs (--target, BootTest by default): --exec, --gdb and a terminal belong to some targets only.</summary>
    public string? TargetName { get; init; }

    /// <summary>Running as root: prerequisites are installed without --install-deps.</summary>
    public bool IsRoot { get; init; }

    /// <summary>Environment only: credentials for --cache-registry and for --push, and GitHub Actions' output file.</summary>
    public RegistryCredentials? RegistryCredentials { get; init; }
    public RegistryCredentials? PushCredentials { get; init; }
    public string? GitHubOutput { get; init; }

    /// <summary>The arguments the user gave (by name), as opposed to defaults.</summary>
    public IReadOnlySet<string> Given { get; init; } = new HashSet<string>();

    // --- derived ---
    public bool MayInstall => InstallDeps || IsRoot;
    /// <summary>--timeout as a time span; null leaves the default to the target (BootTest's by accelerator, none for Run).</summary>
    public TimeSpan? Timeout => TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null;
    /// <summary>--append, or null when it is empty.</summary>
    public string? ExtraKernelArguments => Append.Length > 0 ? Append : null;
    /// <summary>make -j for a local build: --jobs, else the CPU count.</summary>
    public int Jobs => RequestedJobs ?? System.Environment.ProcessorCount;
    /// <summary>How many times a bisect step boots its kernel: --repeat, else once.</summary>
    public int Boots => Repeat ?? 1;
    /// <summary>--cache-registry parsed when the options are (a malformed one is exit 2 before any work), or null.</summary>
    public RegistryReference? Registry { get; private init; }
    /// <summary>--push (with --push-insecure) parsed when the options are, or null.</summary>
    public RegistryReference? PushRegistry { get; private init; }
    /// <summary>--machine, --smp and --memory, checked against --arch when the options are parsed.</summary>
    public MachineSetup Machine { get; private init; } = MachineSetup.Default(Arch.X86_64);
    /// <summary>--distcc-hosts parsed when the options are, or null.</summary>
    public DistccFarm? DistccFarm { get; private init; }
    public bool InContainer => Runtime == DockerRuntime;
    public IEnumerable<string> CiOutputFiles => new[] { CiOutput, GitHubOutput }.OfType<string>();
    /// <summary>Which fragment folders the build reads beyond common/ and &lt;arch&gt;/: --variant, --build-type, --conf-guest.</summary>
    public Config.FragmentSelection FragmentSelection => new(Arch)
    {
        Variants = Variant.Length > 0 ? [Variant] : [],
        BuildType = BuildType,
        ConfGuest = ConfGuest,
    };
    /// <summary>Whether the user gave the argument of the property named <paramref name="property"/> (nameof(Kernel)).</summary>
    public bool IsGiven(string property) => Given.Contains(ArgumentFor(property));

    /// <summary>The argument name of a property: ArgumentFor(nameof(BisectPlanPath)) is "bisect-plan".</summary>
    public static string ArgumentFor(string property) => Declared().Single(d => d.Property.Name == property).Argument.Name;

    /// <summary>
    /// The arguments the user gave, as --name=value with the parsed values (absolute paths), so another Kiln process
    /// (a bisect step) parses the same options; the environment it inherits supplies the rest.
    /// </summary>
    public IReadOnlyList<string> ToArguments() =>
        Declared().Where(d => Given.Contains(d.Argument.Name)).SelectMany(d => d.Property.GetValue(this) switch
        {
            IReadOnlyList<string> values => values.Select(v => $"--{d.Argument.Name}={v}"),
            bool flag => [$"--{d.Argument.Name}={(flag ? "true" : "false")}"],
            null => [],
            var value => [$"--{d.Argument.Name}={value}"],
        }).ToList();

    /// <summary>Every declared argument, in declaration order (for --help and the command-line parser).</summary>
    public static IReadOnlyList<ArgumentAttribute> Arguments { get; } = Declared().Select(d => d.Argument).ToList();

    /// <summary>
    /// Parses <paramref name="arguments"/> (values by argument name, last one wins, a flag is "true") and
    /// <paramref name="environment"/> (read only for the variables the arguments name, KILN_CACHE_REGISTRY_USER/_PASSWORD, KILN_PUSH_USER/_PASSWORD,
    /// the login files' variables (see <see cref="RegistryLogin"/>) and GITHUB_OUTPUT); throws exit 2 naming the option for a bad value.
    /// </summary>
    public static KilnOptions Parse(ILookup<string, string> arguments, IReadOnlyDictionary<string, string?> environment, string repoRoot, bool isRoot = false)
    {
        string? Env(string name) => environment.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v : null;
        var options = new KilnOptions
        {
            RepoRoot = repoRoot, IsRoot = isRoot, Given = arguments.Select(g => g.Key).ToHashSet(StringComparer.OrdinalIgnoreCase),
            TargetName = arguments["target"].LastOrDefault(),
        };
        foreach (var (property, argument) in Declared())
        {
            var values = arguments[argument.Name].ToList();
            if (property.PropertyType == typeof(IReadOnlyList<string>))
            {
                if (values.Count > 0) property.SetValue(options, values);
                continue;
            }
            var text = values.LastOrDefault() ?? (argument.Environment is { } env ? Env(env) : null);
            if (text is null) continue;
            property.SetValue(options, Convert(property.PropertyType, argument, text));
        }
        // The variables first; else what skopeo, podman or docker login saved for the registry.
        RegistryCredentials? Credentials(string prefix, RegistryReference? registry) =>
            Env(prefix + "_USER") is { } user ? new RegistryCredentials(user, Env(prefix + "_PASSWORD") ?? "")
            : registry is null ? null : RegistryLogin.Find(registry.Host, environment);
        var validated = options.Validated();
        return validated with
        {
            RegistryCredentials = Credentials(RegistryCredentials.CacheVariables, validated.Registry),
            PushCredentials = Credentials(RegistryCredentials.PushVariables, validated.PushRegistry),
            GitHubOutput = Env("GITHUB_OUTPUT"),
        };
    }

    private static object Convert(Type type, ArgumentAttribute argument, string text)
    {
        var name = argument.Name;
        if (type == typeof(bool)) return !string.Equals(text, "false", StringComparison.OrdinalIgnoreCase);
        if (type == typeof(int?))
            return WholeNumber.Parse(text, 1, argument.Maximum)
                   ?? throw KilnException.BadInput($"--{name}={text}: expected a positive whole number" +
                                                   (argument.Maximum < int.MaxValue ? $" from 1 to {argument.Maximum}." : "."));
        if (type == typeof(MemorySize?)) return MemorySize.Parse(name, text);
        if (type == typeof(Toolchain))
            return Toolchain.Find(text)
                   ?? throw KilnException.BadInput($"--{name}={text}: unknown toolchain. Supported: {Toolchain.Supported}.");
        if (type == typeof(Arch))
            return Arch.Find(text)
                   ?? throw KilnException.BadInput($"--{name}={text}: unknown architecture. Supported: {Arch.Supported}.");
        return text;
    }

    /// <summary>Checks what depends on more than one option or on the repository, and makes paths absolute.</summary>
    private KilnOptions Validated()
    {
        // --kunit builds the kunit variant unless another variant is named (whose config must then enable KUnit itself).
        if (Variant.Length == 0 && KUnit is { } asked && !asked.Equals("false", StringComparison.OrdinalIgnoreCase))
            return (this with { Variant = Kiln.Kernel.KUnit.KUnitRequest.Variant }).Validated();
        // A variant is a folder name under configs/fragments/ and part of the cache key: never a path.
        if (Variant.Length > 0 && !VariantName().IsMatch(Variant))
            throw KilnException.BadInput($"--variant={Variant}: expected a name (lowercase letters, digits, '.', '_', '-'; such as dbg), not a path.");
        foreach (var dir in Identity.BuildRecipe.VariantDirectories(Variant))
            if (!Directory.Exists(Path.Combine(RepoRoot, "configs", "fragments", dir)))
                throw KilnException.BadInput($"--variant={Variant}: there is no configs/fragments/{dir}/ for it. Known variants: dbg, kunit.");
        // Kata's folders: a missing one is exit 2 before any work.
        Config.FragmentSet.CheckKataFolders(Path.Combine(RepoRoot, "configs", "fragments"), FragmentSelection);
        // Parsed now so a malformed host list is exit 2 before any work; probed by BuildKernel.
        var farm = string.IsNullOrWhiteSpace(DistccHosts) ? null : Build.Distribution.DistccFarm.Parse(DistccHosts);
        if (Runtime is not (BuildRuntime.HostName or DockerRuntime))
            throw KilnException.BadInput($"--runtime={Runtime}: unknown runtime. Valid: host, docker.");
        if (farm is not null && Toolchain != Toolchain.Gcc)
            throw KilnException.BadInput($"--distcc-hosts with --toolchain={Toolchain}: the farm's hosts compile with the gcc Kiln's build-farm setup gives them; build {Toolchain} locally (drop --distcc-hosts or KILN_DISTCC_HOSTS).");
        if (InContainer && farm is not null)
            throw KilnException.BadInput("--runtime=docker builds in a container without network, so it cannot reach a distcc farm: drop --distcc-hosts (or KILN_DISTCC_HOSTS), or use --runtime=host.");
        CheckGuestSession();
        CheckConfigSearch();
        CheckBuilderImage();
        var kselftests = (Kselftest ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        foreach (var target in kselftests.Where(t => !KselftestTargetName().IsMatch(t) || t.Split('/').Contains("..")))
            throw KilnException.BadInput($"--kselftest={Kselftest}: '{target}' is not a selftest target name (a directory under tools/testing/selftests, such as timers or net/af_unix).");
        if (string.Equals(TargetName, KilnTargets.Kselftest, StringComparison.OrdinalIgnoreCase) && kselftests.Count == 0)
            throw KilnException.BadInput("--target=Kselftest needs --kselftest=TARGETS, the selftests to run (for example --kselftest=timers,size).");
        var matrixArches = NameList("matrix-arches", MatrixArches, Arch.All, Arch.Find, "architecture", Arch.Supported);
        var matrixToolchains = NameList("matrix-toolchains", MatrixToolchains, Toolchain.All, Toolchain.Find, "toolchain", Toolchain.Supported);
        // Both would narrow the same dimension, and neither can say which the user meant.
        if (matrixArches.Count > 0 && IsGiven(nameof(Arch)))
            throw KilnException.BadInput($"--arch={Arch} and --matrix-arches={MatrixArches} both choose the matrix's arches: give one.");
        if (matrixToolchains.Count > 0 && IsGiven(nameof(Toolchain)))
            throw KilnException.BadInput($"--toolchain={Toolchain} and --matrix-toolchains={MatrixToolchains} both choose the matrix's toolchains: give one.");
        var kunit = KUnit is null || KUnit.Equals("false", StringComparison.OrdinalIgnoreCase) ? null
            : new Kiln.Kernel.KUnit.KUnitRequest(KUnit.Equals("true", StringComparison.OrdinalIgnoreCase) || KUnit.Trim() is "" or "*" ? null : KUnit.Trim());
        var machine = new MachineSetup(MachineName is null ? MachineProfile.Default(Arch) : MachineProfile.Find(Arch, MachineName),
            Smp ?? MachineProfile.DefaultSmp, Memory ?? MachineProfile.DefaultMemory);
        // Read /proc/meminfo now rather than at boot, so too much --memory fails before a build, not after it.
        machine.RequireHostMemory();
        // Paths are checked now, so a file where a directory belongs, a read-only mount or /proc is exit 2 before any work.
        var tests = Tests.Select(t => PathArgument.ExistingFile("test", t)).ToList();
        var against = Against is null ? null : PathArgument.ExistingFile("against", Against);
        if (WritableDirectory is not null && tests.Count == 0)
            throw KilnException.BadInput($"--rwdir={WritableDirectory} is shared with the --test scripts; give at least one --test=FILE.");
        var rwdir = WritableDirectory is null ? null : PathArgument.WritableDirectory("rwdir", WritableDirectory);
        return this with
        {
            KUnitRun = kunit,
            KselftestTargets = kselftests,
            MatrixArchFilter = matrixArches,
            MatrixToolchainFilter = matrixToolchains,
            Machine = machine,
            DistccFarm = farm,
            Registry = CacheRegistry is null ? null : RegistryReference.Parse(CacheRegistry),
            PushRegistry = PushRepository is null ? null : RegistryReference.ParsePush(PushRepository, PushInsecure),
            CacheDir = PathArgument.WritableDirectory("cache-dir", CacheDir),
            Mirror = Mirror is null ? null : KernelOrgProvider.CheckMirror("mirror", Mirror),
            // A base config file is read by bisect steps too, which run in another directory.
            BaseConfig = File.Exists(BaseConfig) ? Path.GetFullPath(BaseConfig) : BaseConfig,
            Tests = tests,
            Against = against,
            WritableDirectory = rwdir,
            GoodConfig = GoodConfig is null ? null : PathArgument.ExistingFile("good-config", GoodConfig),
            BadConfig = BadConfig is null ? null : PathArgument.ExistingFile("bad-config", BadConfig),
            StartConfig = StartConfig is null ? null : PathArgument.ExistingFile("config", StartConfig),
            Out = Out is null ? null : PathArgument.WritableDirectory("out", Out),
            KataDestDir = KataDestDir is null ? null : PathArgument.WritableDirectory("destdir", KataDestDir),
            CiOutput = CiOutput is null ? null : PathArgument.WritableFile("ci-output", CiOutput),
            GitHubOutput = null,
        };
    }

    /// <summary>
    /// A comma-separated list of names (<paramref name="text"/>, null when not given), each found by <paramref name="find"/>,
    /// in <paramref name="all"/>'s order without repeats; an unknown name or an empty list is exit 2 listing the supported ones.
    /// </summary>
    private static IReadOnlyList<T> NameList<T>(string argument, string? text, IReadOnlyList<T> all, Func<string, T?> find, string kind, string supported)
        where T : class
    {
        if (text is null) return [];
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0)
            throw KilnException.BadInput($"--{argument}={text}: name at least one {kind}. Supported: {supported}.");
        var found = names.Select(name => find(name) ?? throw KilnException.BadInput($"--{argument}={text}: unknown {kind} '{name}'. Supported: {supported}.")).ToHashSet();
        return all.Where(found.Contains).ToList();
    }

    /// <summary>What belongs to Run and Shell, checked before any build: a command for Run, a terminal for Shell.</summary>
    private void CheckGuestSession()
    {
        var run = string.Equals(TargetName, KilnTargets.Run, StringComparison.OrdinalIgnoreCase);
        var shell = string.Equals(TargetName, KilnTargets.Shell, StringComparison.OrdinalIgnoreCase);
        if (Exec is not null && !run)
            throw KilnException.BadInput($"--exec (or -- CMD after the arguments) is the command of --target=Run, not of --target={TargetName}: " +
                                         $"./build.sh --target=Run -- {Exec}");
        if (run && string.IsNullOrWhiteSpace(Exec))
            throw KilnException.BadInput("--target=Run needs a command to run in the guest: ./build.sh --target=Run -- CMD [ARGS…] (or --exec='CMD'). " +
                                         "For an interactive shell use --target=Shell.");
        if (Gdb && !run && !shell)
            throw KilnException.BadInput($"--gdb starts a guest for a debugger, with --target=Run or --target=Shell, not --target={TargetName}.");
        if (shell && (System.Console.IsInputRedirected || System.Console.IsOutputRedirected))
            throw KilnException.BadInput("--target=Shell needs an interactive terminal (stdin and stdout are not one); use --target=Run -- CMD to run a command.");
    }

    /// <summary>--runtime=docker compiles in the builder image, which has only the compilers its package list names (targets that compile nothing skip this).</summary>
    private void CheckBuilderImage()
    {
        if (!InContainer || KilnTargets.CompileNothing.Contains(TargetName ?? "", StringComparer.OrdinalIgnoreCase)) return;
        var list = Path.Combine(RepoRoot, BuilderImageRecipe.PackagesFile);
        var packages = BuilderImageRecipe.Load(list).Packages;
        var missing = Toolchain.Programs(Arch).Select(p => p.Package).Where(p => p != "gcc" && !packages.Contains(p)).Distinct().ToList();
        if (missing.Count > 0)
            throw KilnException.BadInput($"--runtime=docker: the builder image has no {string.Join(", ", missing)} (for --arch={Arch} --toolchain={Toolchain}). " +
                                         $"Add {(missing.Count == 1 ? "it" : "them")} to {list} (the next docker build makes a new image), or build with --runtime=host.");
    }

    /// <summary>ConfigBisect needs both ends; the config files themselves are read (arch, contents) when the search starts.</summary>
    private void CheckConfigSearch()
    {
        if (string.Equals(TargetName, KilnTargets.ConfigBisect, StringComparison.OrdinalIgnoreCase) && (GoodConfig is null || BadConfig is null))
            throw KilnException.BadInput("--target=ConfigBisect needs --good-config=FILE (a .config that passes) and --bad-config=FILE (one that fails) for the same tree.");
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
    private static partial Regex KselftestTargetName();

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]*$")]
    private static partial Regex VariantName();

    private static IEnumerable<(PropertyInfo Property, ArgumentAttribute Argument)> Declared() =>
        typeof(KilnOptions).GetProperties()
            .Select(p => (Property: p, Argument: p.GetCustomAttribute<ArgumentAttribute>()))
            .Where(d => d.Argument is not null)
            .OrderBy(d => d.Property.MetadataToken)
            .Select(d => (d.Property, d.Argument!));
}

/// <summary>The names of the targets whose arguments <see cref="KilnOptions"/> checks (the tasks carry the same names).</summary>
public static class KilnTargets
{
    public const string Run = "Run";
    public const string Shell = "Shell";
    public const string Kselftest = "Kselftest";
    public const string ConfigBisect = "ConfigBisect";
    public const string MinConfig = "MinConfig";
    public const string CacheKey = "CacheKey";
    public const string Matrix = "Matrix";
    /// <summary>Targets that read the repository only: no compiler runs, so the build runtime's compilers do not matter.</summary>
    public static readonly IReadOnlyList<string> CompileNothing = [CacheKey, Matrix];
}
