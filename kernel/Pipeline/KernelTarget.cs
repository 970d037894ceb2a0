using Kiln.Kernel.Config;
using Kiln.Kernel.Identity;
using Kiln.Kernel.IO;
using Kiln.Kernel.Patches;
using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Pipeline;

/// <summary>
/// What the options ask to build, resolved against the repository: the pinned version (versions.yaml), the config
/// counter (kata_config_version), the cache key, the recipe (patch and fragment files hashed) and where outputs go.
/// </summary>
public sealed record KernelTarget(
    VersionsManifest Manifest,
    int ConfigVersion,
    SeriesPin Pin,
    KernelVersion Version,
    BuildRecipe Recipe,
    string CacheKey,
    KilnPaths Paths,
    string KataDestDir)
{
    public static KernelTarget Resolve(KilnOptions options)
    {
        var manifest = VersionsManifest.Load(Path.Combine(options.RepoRoot, "versions.yaml"));
        var configVersion = Versions.ConfigVersion.Load(Path.Combine(options.RepoRoot, "kata_config_version"));
        var (pin, version) = manifest.Resolve(options.Kernel);
        var key = CacheIdentity.KeyFor(version, configVersion, options.Variant);
        // One directory per build by default, so x86_64 and arm64 (or dbg, or clang's) artifacts never mix.
        var paths = new KilnPaths(options.CacheDir, options.Out ?? Path.GetFullPath(Path.Combine(options.RepoRoot, "artifacts",
            $"{key}-{options.Arch}{options.Toolchain.NameSuffix}")));
        return new KernelTarget(manifest, configVersion, pin, version, BuildRecipe.Collect(options.RepoRoot, version, options.Arch.Name, options.Variant, options.BuildType, options.ConfGuest,
                options.KselftestTargets),
            key, paths, options.KataDestDir ?? paths.DefaultKataDestDir);
    }

    /// <summary>LOCALVERSION: makes the release (uname -r) read as the cache key, e.g. 6.1.192-1.</summary>
    public string LocalVersion => CacheKey[Version.ToString().Length..];

    /// <summary>The patch series for this kernel (patches/&lt;series&gt;.x).</summary>
    public static PatchSeries Patches(KilnOptions options, KernelVersion version) =>
        PatchSeries.ForKernel(Path.Combine(options.RepoRoot, "patches"), version.ToString());

    /// <summary>
    /// The config fragments for the arch, variant, Kata build type and confidential guest type (configs/fragments/common,
    /// /&lt;arch&gt;, build-type/&lt;name&gt;, &lt;arch&gt;/&lt;type&gt;, variant dirs), chosen as Kata's build-kernel.sh chooses them.
    /// </summary>
    public static FragmentSet Fragments(KilnOptions options) =>
        FragmentSet.Select(Path.Combine(options.RepoRoot, "configs", "fragments"), options.FragmentSelection);

    /// <summary>What may drop without failing Configure: configs/allow-dropped.conf and Kata's whitelists for this kernel version.</summary>
    public static AllowList AllowedDrops(KilnOptions options, KernelVersion version) =>
        AllowList.ForConfigs(Path.Combine(options.RepoRoot, "configs"), version.ToString());
}
