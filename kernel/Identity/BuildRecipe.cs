using System.Security.Cryptography;
using System.Text;
using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Identity;

/// <summary>
/// Everything in the repository that decides what a build contains: the pinned version, arch, variant,
/// the series' patches and the config inputs. Its hash is what kiln.lock records per config version,
/// so a change made without bumping kata_config_version is caught.
/// </summary>
public sealed class BuildRecipe
{
    private BuildRecipe(KernelVersion version, string arch, string variant, string buildType, string confGuest, IReadOnlyList<string> kselftests,
        IReadOnlyList<RecipeFile> files)
    {
        Kselftests = kselftests;
        Version = version;
        Arch = arch;
        Variant = variant;
        BuildType = buildType;
        ConfGuest = confGuest;
        Files = files;
        Hash = Sha256Hex(Canonical());
    }

    public KernelVersion Version { get; }
    public string Arch { get; }
    public string Variant { get; }
    /// <summary>Kata's build type (configs/fragments/build-type/&lt;name&gt;) and confidential guest type; empty for none.</summary>
    public string BuildType { get; }
    public string ConfGuest { get; }
    /// <summary>The kselftest targets whose config fragments (in the source tree, so named by it) join the config; empty for none.</summary>
    public IReadOnlyList<string> Kselftests { get; }
    /// <summary>Repository files that feed the build, with their content hashes, in a stable order.</summary>
    public IReadOnlyList<RecipeFile> Files { get; }
    public string Hash { get; }

    /// <summary>The kiln.lock entry name: series, arch and variant share one counter-to-hash record.</summary>
    public string LockName => $"{Version.SeriesName}/{Arch}" + (Variant.Length > 0 ? "/" + Variant : "") +
                              (BuildType.Length > 0 ? "/build-type=" + BuildType : "") + (ConfGuest.Length > 0 ? "/conf-guest=" + ConfGuest : "") +
                              (Kselftests.Count > 0 ? "/kselftest=" + string.Join(',', Kselftests) : "");

    /// <summary>
    /// Collects the inputs under <paramref name="repoRoot"/>: patches/&lt;series&gt;.x/*.patch and the config
    /// directories the arch and variant read (configs/fragments/common, /&lt;arch&gt;, /debug for dbg, configs/*.conf),
    /// and Kata's configs/fragments/build-type/&lt;name&gt; (the confidential folders sit under common and &lt;arch&gt;).
    /// </summary>
    public static BuildRecipe Collect(string repoRoot, KernelVersion version, string arch, string variant, string buildType = "", string confGuest = "",
        IReadOnlyList<string>? kselftests = null)
    {
        var paths = new List<string>();
        void AddDir(string relative, string pattern)
        {
            var dir = Path.Combine(repoRoot, relative);
            if (Directory.Exists(dir)) paths.AddRange(Directory.GetFiles(dir, pattern, SearchOption.AllDirectories));
        }

        AddDir(Path.Combine("patches", version.SeriesName + ".x"), "*.patch");
        AddDir(Path.Combine("configs", "fragments", "common"), "*.conf");
        AddDir(Path.Combine("configs", "fragments", Kernel.Arch.Parse(arch).KataName), "*.conf");
        foreach (var dir in VariantDirectories(variant)) AddDir(Path.Combine("configs", "fragments", dir), "*.conf");
        if (buildType.Length > 0) AddDir(Path.Combine("configs", "fragments", "build-type", buildType), "*.conf");
        var configs = Path.Combine(repoRoot, "configs");
        if (Directory.Exists(configs)) paths.AddRange(Directory.GetFiles(configs, "*.conf", SearchOption.TopDirectoryOnly));

        var files = paths
            .Select(p => new RecipeFile(Path.GetRelativePath(repoRoot, p).Replace('\\', '/'), Sha256Hex(File.ReadAllBytes(p))))
            .OrderBy(f => f.Path, StringComparer.Ordinal)
            .ToList();
        return new BuildRecipe(version, arch, variant, buildType, confGuest, kselftests ?? [], files);
    }

    /// <summary>Fragment directories a variant adds: "dbg" reads configs/fragments/debug; others read their own name.</summary>
    public static IEnumerable<string> VariantDirectories(string variant) => variant switch
    {
        "" => Array.Empty<string>(),
        "dbg" => new[] { "debug" },
        _ => new[] { variant },
    };

    private string Canonical()
    {
        var text = new StringBuilder();
        text.Append("version ").Append(Version).Append('\n');
        text.Append("arch ").Append(Arch).Append('\n');
        text.Append("variant ").Append(Variant).Append('\n');
        // Only when set, so the hashes of builds without them stay what kiln.lock records.
        if (BuildType.Length > 0) text.Append("build-type ").Append(BuildType).Append('\n');
        if (ConfGuest.Length > 0) text.Append("conf-guest ").Append(ConfGuest).Append('\n');
        if (Kselftests.Count > 0) text.Append("kselftest ").Append(string.Join(',', Kselftests)).Append('\n');
        foreach (var f in Files) text.Append(f.Sha256).Append("  ").Append(f.Path).Append('\n');
        return text.ToString();
    }

    public static string Sha256Hex(string text) => Sha256Hex(Encoding.UTF8.GetBytes(text));
    public static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}

public sealed record RecipeFile(string Path, string Sha256);
