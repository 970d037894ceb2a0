using System.Text.Json;
using System.Text.Json.Serialization;
using Kiln.Kernel.Identity;

namespace Kiln.Kernel.Versions;

/// <summary>One CI job of the build matrix: what to build, the arguments that build it, and the keys to cache it under.</summary>
public sealed record MatrixEntry(
    /// <summary>Runner-friendly job name: "6.1-x86_64", "6.1-arm64-dbg" (letters, digits, '.', '_', '-' only).</summary>
    string Name,
    string Series,
    string Version,
    string Arch,
    string Variant,
    /// <summary>Kiln's cache key, what uname -r reads: 6.1.192-1, 6.1.192-1-dbg.</summary>
    string Key,
    /// <summary>The repository inputs' hash (as --target=CacheKey prints it) for this series, arch and variant.</summary>
    string InputHash,
    /// <summary>A key for a CI cache: unique per job and changed by any input change; Kiln still verifies the exact identity on restore.</summary>
    string CacheKey,
    /// <summary>Kiln's arguments for this job: ./build.sh --target=BootTest {args}.</summary>
    string Args);

/// <summary>
/// The CI build matrix: every pinned series × arch × variant, for CI systems that fan out one job per entry.
/// It is printed in GitHub Actions' shape ({"include": [...]}), which other systems read as plain JSON.
/// </summary>
public static class BuildMatrix
{
    public static readonly IReadOnlyList<string> Arches = Arch.All.Select(a => a.Name).ToList();
    /// <summary>"" is the release build; dbg adds configs/fragments/debug.</summary>
    public static readonly IReadOnlyList<string> Variants = new[] { "", "dbg" };

    private static readonly JsonSerializerOptions Compact = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    private static readonly JsonSerializerOptions Indented = new(Compact) { WriteIndented = true };

    /// <summary>
    /// Entries in a stable order: version, then arch, then variant, as given. Kata's <paramref name="buildType"/> and
    /// <paramref name="confGuest"/> (--build-type, --conf-guest), when given, go into every entry's arguments and input hash.
    /// </summary>
    public static IReadOnlyList<MatrixEntry> Expand(string repoRoot, int configVersion, IEnumerable<KernelVersion> versions,
        IReadOnlyList<string> arches, IReadOnlyList<string> variants, string buildType = "", string confGuest = "") =>
        versions
            .OrderBy(v => v.Major).ThenBy(v => v.Minor).ThenBy(v => v.Sublevel)
            .SelectMany(version => arches.SelectMany(arch => variants.Select(variant => Entry(repoRoot, configVersion, version, arch, variant, buildType, confGuest))))
            .ToList();

    public static MatrixEntry Entry(string repoRoot, int configVersion, KernelVersion version, string arch, string variant, string buildType = "", string confGuest = "")
    {
        var key = CacheIdentity.KeyFor(version, configVersion, variant);
        // The build type and guest type are in the input hash (and so the CI cache key), not in Kiln's key: as in the build identity.
        var inputHash = BuildRecipe.Collect(repoRoot, version, arch, variant, buildType, confGuest).Hash;
        var suffix = string.Concat(new[] { variant, buildType, confGuest }.Where(s => s.Length > 0).Select(s => "-" + s));
        var args = $"--kernel={version} --arch={arch}" + (variant.Length > 0 ? " --variant=" + variant : "") +
                   (buildType.Length > 0 ? " --build-type=" + buildType : "") + (confGuest.Length > 0 ? " --conf-guest=" + confGuest : "");
        return new MatrixEntry($"{version.SeriesName}-{arch}{suffix}", version.SeriesName, version.ToString(), arch, variant,
            key, inputHash, $"kiln-{key}-{arch}-{inputHash[..12]}", args);
    }

    /// <summary>{"include":[...]}: one line for a CI variable (GitHub's $GITHUB_OUTPUT), indented for a file.</summary>
    public static string ToJson(IReadOnlyList<MatrixEntry> entries, bool indented = false) =>
        JsonSerializer.Serialize(new { include = entries }, indented ? Indented : Compact);
}
