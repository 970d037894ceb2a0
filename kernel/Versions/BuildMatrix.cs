using System.Text.Json;
using Kiln.Kernel.Identity;
using Kiln.Kernel.RemoteCache;

namespace Kiln.Kernel.Versions;

/// <summary>One CI job of the build matrix: what to build, the arguments that build it, the keys to cache it under and the tags it pushes.</summary>
public sealed record MatrixEntry(
    /// <summary>Runner-friendly job name: "6.1-x86_64", "6.1-arm64-dbg", "6.1-arm64-clang" (letters, digits, '.', '_', '-' only).</summary>
    string Name,
    string Series,
    string Version,
    string Arch,
    string Variant,
    /// <summary>The toolchain the job builds with (--toolchain): gcc or clang.</summary>
    string Toolchain,
    /// <summary>Kiln's cache key, what uname -r reads: 6.1.192-1, 6.1.192-1-dbg (the same for every toolchain).</summary>
    string Key,
    /// <summary>The repository inputs' hash (as --target=CacheKey prints it) for this series, arch and variant.</summary>
    string InputHash,
    /// <summary>A key for a CI cache: unique per job and changed by any input change; Kiln still verifies the exact identity on restore.</summary>
    string CacheKey,
    /// <summary>Kiln's arguments for this job: ./build.sh --target=BootTest {args}.</summary>
    string Args,
    /// <summary>The OCI platform architecture (amd64, arm64, s390x, ppc64le, riscv64): the job's platform in the image index.</summary>
    string OciArch,
    /// <summary>The tag the job's --push gives its image: 6.1.192-1-amd64, 6.1.192-1-clang-amd64.</summary>
    string ImageTag,
    /// <summary>The multi-arch index --push adds the image to, shared by the jobs of one key and toolchain: 6.1.192-1, 6.1.192-1-clang.</summary>
    string IndexTag);

/// <summary>
/// The CI build matrix: every pinned series × arch × variant × toolchain, for CI systems that fan out one job per entry.
/// It is printed in GitHub Actions' shape ({"include": [...]}), which other systems read as plain JSON.
/// </summary>
public static class BuildMatrix
{
    /// <summary>"" is the release build; dbg adds configs/fragments/debug.</summary>
    public static readonly IReadOnlyList<string> Variants = new[] { "", "dbg" };

    /// <summary>gcc only unless asked: a clang job is one more full build of its arch, and gcc is what Kata ships.</summary>
    public static readonly IReadOnlyList<Toolchain> DefaultToolchains = [Toolchain.Gcc];

    private static readonly JsonSerializerOptions Compact = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    private static readonly JsonSerializerOptions Indented = new(Compact) { WriteIndented = true };

    /// <summary>
    /// Entries in a stable order: version, then arch, variant and toolchain, as given. Kata's <paramref name="buildType"/> and
    /// <paramref name="confGuest"/> (--build-type, --conf-guest), when given, go into every entry's arguments and input hash.
    /// </summary>
    public static IReadOnlyList<MatrixEntry> Expand(string repoRoot, int configVersion, IEnumerable<KernelVersion> versions,
        IReadOnlyList<Arch> arches, IReadOnlyList<string> variants, IReadOnlyList<Toolchain> toolchains, string buildType = "", string confGuest = "") =>
        versions
            .OrderBy(v => v.Major).ThenBy(v => v.Minor).ThenBy(v => v.Sublevel)
            .SelectMany(version => arches.SelectMany(arch => variants.SelectMany(variant => toolchains.Select(toolchain =>
                Entry(repoRoot, configVersion, version, arch, variant, toolchain, buildType, confGuest)))))
            .ToList();

    /// <summary>
    /// One job. A gcc job has the name, arguments and cache key it had before toolchains, so existing CI caches stay warm;
    /// another toolchain's adds "-clang" to the name and cache key (the input hash does not cover the toolchain) and
    /// --toolchain=clang to the arguments.
    /// </summary>
    public static MatrixEntry Entry(string repoRoot, int configVersion, KernelVersion version, Arch arch, string variant, Toolchain toolchain,
        string buildType = "", string confGuest = "")
    {
        var key = CacheIdentity.KeyFor(version, configVersion, variant);
        // The build type and guest type are in the input hash (and so the CI cache key), not in Kiln's key: as in the build identity.
        var inputHash = BuildRecipe.Collect(repoRoot, version, arch.Name, variant, buildType, confGuest).Hash;
        var suffix = string.Concat(new[] { variant, buildType, confGuest }.Where(s => s.Length > 0).Select(s => "-" + s)) + toolchain.NameSuffix;
        var args = $"--kernel={version} --arch={arch.Name}" + (variant.Length > 0 ? " --variant=" + variant : "") +
                   (buildType.Length > 0 ? " --build-type=" + buildType : "") + (confGuest.Length > 0 ? " --conf-guest=" + confGuest : "") +
                   (toolchain == Toolchain.Gcc ? "" : " --toolchain=" + toolchain.Name);
        var tags = new RegistryTags(key, arch, toolchain);
        return new MatrixEntry($"{version.SeriesName}-{arch.Name}{suffix}", version.SeriesName, version.ToString(), arch.Name, variant, toolchain.Name,
            key, inputHash, $"kiln-{key}-{arch.Name}{toolchain.NameSuffix}-{inputHash[..12]}", args, arch.OciArch, tags.ArchTag, tags.Index);
    }

    /// <summary>{"include":[...]}: one line for a CI variable (GitHub's $GITHUB_OUTPUT), indented for a file.</summary>
    public static string ToJson(IReadOnlyList<MatrixEntry> entries, bool indented = false) =>
        JsonSerializer.Serialize(new { include = entries }, indented ? Indented : Compact);
}
