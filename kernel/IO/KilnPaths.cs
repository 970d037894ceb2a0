namespace Kiln.Kernel.IO;

/// <summary>
/// Where everything lives: the cache under --cache-dir (sources, patched trees, build directories, ccache, kernels,
/// locks, bisect work) and the outputs under --out. Every path and lock name is built here and nowhere else.
/// </summary>
public sealed record KilnPaths(string CacheDir, string OutDir)
{
    // --- the cache ---
    public string Ccache => Path.Combine(CacheDir, "ccache");
    /// <summary>One directory per build: its working tree and its build directory (sources are under <see cref="Sources.SourceCache"/>'s root).</summary>
    public string Work => Path.Combine(CacheDir, "work");
    /// <summary>Where Kiln kept patched trees (one per series) and build directories before <see cref="Work"/>.</summary>
    public IEnumerable<string> FormerLayout => [Path.Combine(CacheDir, "trees"), Path.Combine(CacheDir, "build")];
    public string Bisect => Path.Combine(CacheDir, "bisect");
    public string BisectSeries => Path.Combine(Bisect, "series");
    /// <summary>A repository's bisect work directory (named by <see cref="Kiln.Kernel.Bisect.BisectWorktree.WorkName"/>); deleting it reclaims the space.</summary>
    public string BisectWork(string name) => Path.Combine(Bisect, name);
    /// <summary>The repository's one bisect worktree, kept and reset from bisect to bisect.</summary>
    public string BisectWorktree(string name) => Path.Combine(BisectWork(name), "worktree");
    /// <summary>The build directory (O=) the steps of a repository's bisects share, one per arch, variant and runtime.</summary>
    public string BisectBuildDirectory(string name, Arch arch, string variant, string runtime, Toolchain toolchain) =>
        Path.Combine(BisectWork(name), $"build-{arch.Name}" + (variant.Length > 0 ? "-" + variant : "") + toolchain.NameSuffix +
                                       (runtime == Build.Containers.BuildRuntime.HostName ? "" : "-" + runtime));
    /// <summary>
    /// The build directory the config searches (ConfigBisect, MinConfig) build in, one per build directory of the target,
    /// beside it and building the same tree (../linux): ccache serves it the target's compiles, and make keeps its objects
    /// from one search to the next (a search lock keeps two from running in it at once).
    /// </summary>
    public static string ConfigSearchBuildDirectory(string buildDirectory) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(buildDirectory))!, "build-config-search");
    /// <summary>MinConfig's saved state for one search (its key: tree, arch, start config, tests), resumed by the next run.</summary>
    public string MinConfigState(string key) => Path.Combine(CacheDir, "config-search", $"min-config-{key[..16]}.json");
    /// <summary>Reproduce's scratch (a copy of the tree and a fresh build directory); removed at the end and by the next run.</summary>
    public string ReproduceWork => Path.Combine(CacheDir, "reproduce");

    /// <summary>
    /// The incremental build directory (O=) of a version, arch, variant, Kata build type and guest type, and runtime; kept
    /// for ccache and make, with its <see cref="WorkingTree"/> beside it. Host and container builds keep their own, so neither
    /// rebuilds the other's objects; every build directory sits at the same place relative to its tree (../linux), so ccache
    /// (paths relative to the cache dir) serves one the other's compiles, and any patch series the next. A build type or
    /// guest type has its own too: its .config differs, and two runs sharing a directory would reconfigure it under each other.
    /// So does a base config (<paramref name="baseConfig"/>: empty for the default, else its name or file-&lt;sha256 prefix&gt;),
    /// and a toolchain other than gcc (its objects and .config are its own).
    /// </summary>
    public string BuildDirectory(string version, Arch arch, string variant, string runtime, string buildType = "", string confGuest = "", string baseConfig = "",
        IReadOnlyList<string>? kselftests = null, Toolchain? toolchain = null) =>
        Path.Combine(Work, $"{version}-{arch.Name}" + (variant.Length > 0 ? "-" + variant : "") + toolchain?.NameSuffix +
                           (buildType.Length > 0 ? "-build-type-" + buildType : "") +
                           (confGuest.Length > 0 ? "-conf-guest-" + confGuest : "") +
                           (baseConfig.Length > 0 ? "-base-" + baseConfig : "") +
                           (kselftests is { Count: > 0 } ? "-kselftest-" + string.Join('+', kselftests).Replace('/', '_') : "") +
                           (runtime == Build.Containers.BuildRuntime.HostName ? "" : "-" + runtime), "build");

    /// <summary>The tree a build directory builds from (see <see cref="Patches.WorkingTree"/>): always its sibling, so the relative path between them never changes.</summary>
    public static string WorkingTree(string buildDirectory) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(buildDirectory))!, "linux");

    /// <summary>make's O= for the selftests of a build directory (their headers and objects), beside it.</summary>
    public static string KselftestObjects(string buildDirectory) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(buildDirectory))!, "kselftest");

    /// <summary>The static busybox of a foreign guest arch, fetched once.</summary>
    public static string Busybox(string cacheDir, Arch arch) => Path.Combine(cacheDir, "busybox", arch.DebianArch, "busybox");
    public static string BuilderWork(string cacheDir) => Path.Combine(cacheDir, "builder");

    // --- locks: one file per shared thing, under <cache>/locks ---
    public static string Lock(string cacheDir, string name) => Path.Combine(cacheDir, "locks", name + ".lock");
    public static string SourceLock(string cacheDir, string version) => Lock(cacheDir, "source-" + version);
    /// <summary>
    /// One lock per build directory, named after its path in the cache: a bisect's work dir ends in "build" like every
    /// other bisect's, and two bisects of different ranges must not wait for each other.
    /// </summary>
    public string BuildLock(string buildDirectory)
    {
        var full = Path.GetFullPath(buildDirectory);
        var name = Path.GetRelativePath(Work, full);
        if (name.StartsWith("..")) name = Path.GetRelativePath(CacheDir, full);
        if (name.StartsWith("..") || Path.IsPathRooted(name))
            name = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(full)))[..16];
        return Lock(CacheDir, "build-" + name.Replace(Path.DirectorySeparatorChar, '-'));
    }
    public string PullLock(string entryName) => Lock(CacheDir, "pull-" + entryName);
    /// <summary>One bisect of a repository at a time: they share its worktree.</summary>
    public string BisectLock(string workName) => Lock(CacheDir, "bisect-" + workName);
    public string ReproduceLock => Lock(CacheDir, "reproduce");
    /// <summary>One config search per search build directory at a time (make holds its build lock only while it runs).</summary>
    public string ConfigSearchLock(string buildDirectory) => Lock(CacheDir, "config-search-" + Path.GetFileName(BuildLock(buildDirectory))[..^".lock".Length]);

    public static string BuilderLock(string cacheDir, string tag) => Lock(cacheDir, "builder-" + tag);

    // --- the outputs ---
    public string BuildLog => Path.Combine(OutDir, "build.log");
    public string Boot => Path.Combine(OutDir, "boot");
    public string Package => Path.Combine(OutDir, "package");
    public string Analysis => Path.Combine(OutDir, "analysis");
    public string SparseLog => Path.Combine(Analysis, "sparse.log");
    public string ConfigDiff => Path.Combine(OutDir, "config-diff.txt");
    public string BisectSteps => Path.Combine(OutDir, "bisect");
    /// <summary>A config search's report (config-bisect.json, min-config.json) is <c>&lt;out&gt;/&lt;search&gt;.json</c>; each build's log and boot results are under this.</summary>
    public string ConfigSearchSteps(string search) => Path.Combine(OutDir, search);
    /// <summary>Reproduce's report (reproduce.json, reproduce.txt), the rebuild's build.log and any diffoscope output.</summary>
    public string Reproduce => Path.Combine(OutDir, "reproduce");
    /// <summary>Run's and Shell's serial log, report, initramfs and the command's captured stdout and stderr.</summary>
    public string Session => Path.Combine(OutDir, "run");
    /// <summary>The kselftests' install (run_kselftest.sh and the targets' programs), their session and their results.</summary>
    public string Kselftest => Path.Combine(OutDir, "kselftest");
    public string Matrix => Path.Combine(OutDir, "matrix.json");
    public string DefaultKataDestDir => Path.Combine(OutDir, "kata");
}

/// <summary>The file names of a kernel cache entry (and of --out): written by BuildKernel, read by packaging and boot.</summary>
public static class EntryFiles
{
    public const string Vmlinux = "vmlinux";
    public const string SystemMap = "System.map";
    public const string Config = "config";
    /// <summary>The compressed image keeps make's name: bzImage, Image.</summary>
    public static string Image(Arch arch) => arch.ImageName;
}
