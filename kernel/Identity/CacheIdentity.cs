using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Identity;

/// <summary>
/// What names a build. The key (<c>6.1.192-1</c>: version and config counter) is what humans and CI
/// caches use and what <c>uname -r</c> carries; the hash adds everything else that changes the binary
/// (repository inputs, source checksum, toolchain), so a stale kernel is never served under a reused key.
/// </summary>
public sealed record CacheIdentity(string Key, string Hash)
{
    public string ShortHash => Hash[..12];

    /// <summary>The cache entry's directory name: readable key plus the hash that makes it exact.</summary>
    public string EntryName => $"{Key}-{ShortHash}";

    public static string KeyFor(KernelVersion version, int configVersion, string variant = "") =>
        $"{version}-{configVersion}" + (variant.Length > 0 ? "-" + variant : "");

    /// <summary>
    /// What a cache entry holds. Raised when BuildKernel starts storing more (2: headers, modules and the
    /// module build kit), so entries made before are rebuilt rather than served without the new files.
    /// </summary>
    public const int EntryLayout = 2;

    /// <param name="baseConfig">The base config: a make target name, or a file's content hash.</param>
    /// <param name="runtime">Where the compiler runs when not on the host (engine, builder image and its ID);
    /// host builds pass null, so their hashes do not depend on container support.</param>
    public static CacheIdentity For(BuildRecipe recipe, int configVersion, string sourceSha256, string toolchain, string baseConfig, string? runtime = null) =>
        new(KeyFor(recipe.Version, configVersion, recipe.Variant),
            BuildRecipe.Sha256Hex($"recipe {recipe.Hash}\nsource {sourceSha256}\ntoolchain {toolchain}\nbase-config {baseConfig}\nconfig-version {configVersion}\nentry-layout {EntryLayout}\n" +
                                  (runtime is null ? "" : $"runtime {runtime}\n")));
}
