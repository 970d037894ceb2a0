using Cake.Frosting;

namespace Kiln.Build;

/// <summary>Every argument Kiln takes, in one place: names for the code, descriptions for --help.</summary>
public static class BuildArguments
{
    public const string Kernel = "kernel";
    public const string Arch = "arch";
    public const string Variant = "variant";
    public const string Source = "source";
    public const string Mirror = "mirror";
    public const string Keyring = "keyring";
    public const string Jobs = "jobs";
    public const string Out = "out";
    public const string CacheDir = "cache-dir";
    public const string NoCache = "no-cache";
    public const string InstallDeps = "install-deps";
    public const string UpdateLock = "update-lock";
    public const string BaseConfig = "base-config";
    public const string Timeout = "timeout";
    public const string Test = "test";
    public const string Append = "append";
    public const string Prefix = "prefix";
    public const string DestDir = "destdir";
    public const string Push = "push";
    public const string PushInsecure = "push-insecure";
    public const string CacheRegistry = "cache-registry";
    public const string CiOutput = "ci-output";
    public const string Repo = "repo";
    public const string Good = "good";
    public const string Bad = "bad";
    public const string Patches = "patches";
    public const string BisectPlan = "bisect-plan";
    public const string DistccHosts = "distcc-hosts";
    public const string Runtime = "runtime";
    public const string BuilderMirror = "builder-mirror";

    public static readonly IReadOnlyList<HostArgument> All = new[]
    {
        new HostArgument(Kernel, "Kernel series (6.1) or exact release (6.1.150) from versions.yaml.", "VERSION", "versions.yaml's assets.kernel.version"),
        new HostArgument(Arch, "Target architecture: x86_64 or arm64 (cross-built with gcc-aarch64-linux-gnu).", "ARCH", "x86_64"),
        new HostArgument(Variant, "Build variant: dbg adds configs/fragments/debug; the key and release get the suffix.", "NAME", "none"),
        new HostArgument(Source, "Where the source comes from: auto (versions.yaml order), kernel.org, debian, or a PATH to a kernel tree.", "SOURCE", "auto"),
        new HostArgument(Mirror, "Base URL of a kernel.org-layout mirror (env KILN_MIRROR).", "URL"),
        new HostArgument(Keyring, "gpg keyring to verify the signature of sha256sums.asc with gpgv (env KILN_KEYRING).", "FILE"),
        new HostArgument(Jobs, "Parallel make jobs.", "N", "number of CPUs; with --distcc-hosts the hosts' limits plus the local CPUs"),
        new HostArgument(DistccHosts, "BuildKernel: compile through a distcc farm behind ccache (env KILN_DISTCC_HOSTS), e.g. '10.0.0.5/8,lzo 10.0.0.6:3633/4'. Unreachable hosts are left out; none reachable builds locally.", "HOSTS"),
        new HostArgument(Runtime, "Where Configure and BuildKernel run make and the compiler (env KILN_RUNTIME): host, or docker " +
            "(in Kiln's builder image made with debootstrap from containers/builder/packages; needs a running dockerd). The runtime and image join the cache identity.", "RUNTIME", "host"),
        new HostArgument(BuilderMirror, "--runtime=docker: the Debian mirror debootstrap makes the builder image from (env KILN_BUILDER_MIRROR); part of the image tag.", "URL",
            "http://deb.debian.org/debian"),
        new HostArgument(Out, "Directory for artifacts and reports.", "DIR", "artifacts/<key>-<arch>/"),
        new HostArgument(CacheDir, "Cache of sources, builds and ccache (env KILN_CACHE_DIR).", "DIR", "~/.cache/kiln"),
        new HostArgument(NoCache, "Do not reuse a cached kernel build (sources and ccache are still used)."),
        new HostArgument(InstallDeps, "Install missing Debian packages with apt-get (the default when running as root)."),
        new HostArgument(UpdateLock, "CacheKey: record the current inputs for this config version in kiln.lock."),
        new HostArgument(BaseConfig, "Base config before the fragments: a make target (tinyconfig, defconfig) or a config file.", "CONFIG", "tinyconfig"),
        new HostArgument(Timeout, "BootTest: seconds before a hung guest is killed.", "SECONDS", "60 with KVM, 120 under TCG"),
        new HostArgument(Test, "BootTest, Bisect: a shell script to run in the guest; it passes when it exits 0 (repeatable). In Bisect the scripts alone decide good or bad.", "FILE"),
        new HostArgument(Append, "BootTest: extra kernel command line.", "ARGS"),
        new HostArgument(Prefix, "PackageStage1: Kata install prefix; files go to DESTDIR/PREFIX/share/kata-containers.", "DIR", "/usr"),
        new HostArgument(DestDir, "PackageStage1: staging root of the Kata install layout (env DESTDIR).", "DIR", "<out>/kata"),
        new HostArgument(Push, "PackageStage1: push the OCI image with skopeo to this repository, tagged with the cache key (docker://HOST/REPO).", "REPO"),
        new HostArgument(PushInsecure, "PackageStage1: push over plain HTTP / without TLS verification (a local registry)."),
        new HostArgument(CacheRegistry, "Remote kernel cache in an OCI registry (env KILN_CACHE_REGISTRY; credentials from KILN_CACHE_REGISTRY_USER/_PASSWORD when it asks): " +
            "Setup pulls the verified kernel for this identity, BootTest pushes it after a pass; an unreachable registry only warns.", "HOST[:PORT]/REPO"),
        new HostArgument(CiOutput, "Append key=value lines for CI (cache key, cache status, artifact and result paths) to FILE (env KILN_CI_OUTPUT; $GITHUB_OUTPUT too when set).", "FILE"),
        new HostArgument(Repo, "Bisect: the kernel git repository to bisect (it is not modified; steps run in a separate worktree).", "PATH"),
        new HostArgument(Good, "Bisect: a commit, tag or branch known to work (must be an ancestor of --bad).", "REF"),
        new HostArgument(Bad, "Bisect: a commit, tag or branch known to fail.", "REF"),
        new HostArgument(Patches, "Bisect: find the first patch of patches/<series>.x/ that breaks the boot, instead of a --repo range."),
        new HostArgument(BisectPlan, "BisectStep (run by Bisect through git bisect run): the plan file Bisect wrote.", "FILE"),
    };
}
