using System.Formats.Tar;
using Kiln.Kernel.Config;
using Kiln.Kernel.Packaging;

namespace Kiln.Kernel.Build;

/// <summary>
/// LinuxKit's kernel extras, made from a finished build directory: <c>kernel-headers.tar</c> (the UAPI
/// headers that <c>make headers</c> exports, always), and when CONFIG_MODULES=y <c>kernel.tar</c> (lib/modules
/// from <c>make modules_install</c>) and <c>kernel-dev.tar</c> (what building out-of-tree modules needs:
/// Debian's linux-headers selection under usr/src/linux-headers-&lt;release&gt;). Tars are deterministic, so
/// the same build gives the same bytes.
/// </summary>
public static class DevelopmentArtifacts
{
    public const string HeadersTar = "kernel-headers.tar";
    public const string ModulesTar = "kernel.tar";
    public const string DevTar = "kernel-dev.tar";

    /// <summary>Where modules_install puts lib/modules inside the build directory (INSTALL_MOD_PATH).</summary>
    public const string ModulesStaging = ".kiln-modules";
    private const string OutputDirectory = ".kiln-artifacts";

    /// <summary>Whether the configured build has loadable modules; an unconfigured directory has none (make will say why it cannot build).</summary>
    public static bool ModulesEnabled(string buildDir)
    {
        var config = Path.Combine(buildDir, ".config");
        return File.Exists(config) && KernelConfig.Load(config).IsEnabled("MODULES");
    }

    /// <summary>
    /// make targets built next to the image: headers (the UAPI headers exported into $(objtree)/usr/include, which is
    /// all headers_install adds to, through rsync, a tool the build would otherwise need) and modules when enabled.
    /// </summary>
    public static IEnumerable<string> MakeTargets(bool modules) =>
        modules ? new[] { "headers", "modules" } : new[] { "headers" };

    /// <summary>modules_install's variables: stripped modules into the staging directory, no host paths in the tree.</summary>
    public static IEnumerable<string> ModulesInstallVariables(string buildDir) =>
        new[] { "INSTALL_MOD_PATH=" + Path.Combine(buildDir, ModulesStaging), "INSTALL_MOD_STRIP=1", "modules_install" };

    /// <summary>Writes the tars into the build directory and returns them by cache entry name.</summary>
    public static IReadOnlyDictionary<string, string> Write(string sourceDir, string buildDir, string srcArch, string release, bool modules)
    {
        var outDir = Path.Combine(buildDir, OutputDirectory);
        Directory.CreateDirectory(outDir);
        var written = new Dictionary<string, string>();
        void Tar(string name, IEnumerable<TarItem> items)
        {
            var path = Path.Combine(outDir, name);
            DeterministicTar.Write(path, WithParents(items));
            written[name] = path;
        }

        // What headers_install would copy: the .h files (the directory also holds kbuild's records).
        Tar(HeadersTar, TreeItems(Path.Combine(buildDir, "usr", "include"), "usr/include")
            .Where(i => i.Type == TarEntryType.Directory || i.Path.EndsWith(".h", StringComparison.Ordinal)));
        if (modules)
        {
            Tar(ModulesTar, ModuleItems(Path.Combine(buildDir, ModulesStaging), release));
            Tar(DevTar, ExternalModuleKit(sourceDir, buildDir, srcArch, release));
        }
        return written;
    }

    /// <summary>
    /// lib/modules/&lt;release&gt; as installed, with the build and source links (absolute host paths) replaced by
    /// the link Debian ships: build points at the headers kernel-dev.tar installs.
    /// </summary>
    public static IEnumerable<TarItem> ModuleItems(string stagingDir, string release)
    {
        var prefix = $"lib/modules/{release}";
        foreach (var item in TreeItems(Path.Combine(stagingDir, "lib", "modules", release), prefix))
            if (item.Path != prefix + "/build" && item.Path != prefix + "/source") yield return item;
        yield return TarItem.Symlink(prefix + "/build", DevPrefix(release));
    }

    private static string DevPrefix(string release) => $"/usr/src/linux-headers-{release}";

    /// <summary>
    /// The files an out-of-tree module build reads, as Debian's builddeb selects them: the top and arch
    /// Makefiles, include/, scripts/ and the arch's include and scripts directories from the source; generated
    /// headers, host tools, Module.symvers and .config from the build directory (which win over the source).
    /// </summary>
    public static IEnumerable<TarItem> ExternalModuleKit(string sourceDir, string buildDir, string srcArch, string release)
    {
        var prefix = DevPrefix(release).TrimStart('/');
        var arch = $"arch/{srcArch}";
        var items = new Dictionary<string, TarItem>(StringComparer.Ordinal);
        void Add(string root, string relative, Func<string, bool>? keep = null)
        {
            var full = Path.Combine(root, relative);
            var found = File.Exists(full) || IsSymlink(full) ? new[] { Entry(full, $"{prefix}/{relative}") }
                : Directory.Exists(full) ? TreeItems(full, $"{prefix}/{relative}")
                : Enumerable.Empty<TarItem>();
            foreach (var item in found)
                if (item.Type != TarEntryType.Directory && (keep is null || keep(item.Path))) items[item.Path] = item;
        }

        foreach (var makefile in Directory.GetFiles(sourceDir, "Makefile*").Concat(Directory.GetFiles(Path.Combine(sourceDir, arch), "Makefile*")))
            Add(sourceDir, Path.GetRelativePath(sourceDir, makefile));
        Add(sourceDir, "include");
        Add(sourceDir, "scripts");
        foreach (var dir in Directory.GetDirectories(Path.Combine(sourceDir, arch), "*", SearchOption.AllDirectories)
                     .Where(d => Path.GetFileName(d) is "include" or "scripts"))
            Add(sourceDir, Path.GetRelativePath(sourceDir, dir));
        foreach (var file in Directory.GetFiles(Path.Combine(sourceDir, arch), "*", SearchOption.AllDirectories)
                     .Where(f => Path.GetFileName(f) is "Kbuild.platforms" or "Platform"))
            Add(sourceDir, Path.GetRelativePath(sourceDir, file));

        // Build products: objects and kbuild's .cmd/.d bookkeeping are not needed to build against the tree.
        static bool NotIntermediate(string path) => !(path.EndsWith(".o") || path.EndsWith(".d") || IsKbuildRecord(path));
        Add(buildDir, Path.Combine(arch, "include"), NotIntermediate);
        Add(buildDir, "include", NotIntermediate);
        Add(buildDir, "scripts", NotIntermediate);
        Add(buildDir, "Module.symvers");
        Add(buildDir, Path.Combine("tools", "objtool", "objtool"));
        Add(buildDir, ".config");
        return items.Values;
    }

    /// <summary>
    /// Every directory, file and symlink under <paramref name="root"/>, named under <paramref name="prefix"/>.
    /// Symlinked directories stay links: following them could leave the tree or loop.
    /// </summary>
    public static IEnumerable<TarItem> TreeItems(string root, string prefix)
    {
        if (!Directory.Exists(root)) yield break;
        yield return TarItem.Directory(prefix);
        foreach (var path in Directory.EnumerateFileSystemEntries(root))
        {
            var name = prefix + "/" + Path.GetFileName(path);
            if (!IsSymlink(path) && Directory.Exists(path))
                foreach (var item in TreeItems(path, name)) yield return item;
            else
                yield return Entry(path, name);
        }
    }

    /// <summary>kbuild's .&lt;file&gt;.cmd records of how each file was made: build bookkeeping, not content.</summary>
    private static bool IsKbuildRecord(string path) => path.EndsWith(".cmd") && Path.GetFileName(path).StartsWith('.');

    private static bool IsSymlink(string path) => new FileInfo(path).LinkTarget is not null;

    /// <summary>A file keeps whether it is executable (host tools, scripts); the rest of its mode is normalized.</summary>
    private static TarItem Entry(string path, string name)
    {
        if (new FileInfo(path).LinkTarget is { } target) return TarItem.Symlink(name, target);
        var executable = !OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & UnixFileMode.UserExecute) != 0;
        return TarItem.File(name, path, executable ? Permissions.Directory : Permissions.File);
    }

    /// <summary>Adds the directory entries a tar extractor would otherwise create with its own modes.</summary>
    public static IEnumerable<TarItem> WithParents(IEnumerable<TarItem> items)
    {
        var all = items.ToList();
        var have = all.Select(i => i.Path.TrimEnd('/')).ToHashSet(StringComparer.Ordinal);
        var parents = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in all)
        {
            var path = item.Path.TrimEnd('/');
            for (var slash = path.LastIndexOf('/'); slash > 0; slash = path.LastIndexOf('/', slash - 1))
            {
                var parent = path[..slash];
                if (have.Contains(parent)) continue;
                if (!parents.Add(parent)) break; // its ancestors were added with it
            }
        }
        return all.Concat(parents.Select(TarItem.Directory));
    }
}
