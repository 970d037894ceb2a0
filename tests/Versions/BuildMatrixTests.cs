using System.Text.Json;
using System.Text.RegularExpressions;
using Kiln.Kernel;
using Kiln.Kernel.Identity;
using Kiln.Kernel.Versions;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Versions;

public class BuildMatrixTests
{
    private static VersionsManifest Manifest => VersionsManifest.Load(Path.Combine(Repo.Root, "versions.yaml"));
    private static int Counter => ConfigVersion.Load(Path.Combine(Repo.Root, "kata_config_version"));

    [Test]
    public void EveryPinnedSeriesTimesArchTimesVariantInAStableOrder()
    {
        var pins = Manifest.Series.Values.Select(p => p.Version).ToList();
        var entries = BuildMatrix.Expand(Repo.Root, Counter, pins, Arch.All, BuildMatrix.Variants, BuildMatrix.DefaultToolchains);

        Assert.That(entries, Has.Count.EqualTo(pins.Count * Arch.All.Count * 2));
        Assert.That(entries.Select(e => e.Toolchain).Distinct(), Is.EqualTo(new[] { "gcc" }), "clang only when asked");
        Assert.That(entries.Select(e => e.Name), Is.Unique);
        Assert.That(entries.Select(e => e.CacheKey), Is.Unique, "one CI cache per job");
        Assert.That(entries.Take(4).Select(e => e.Name), Is.EqualTo(new[] { "6.1-x86_64", "6.1-x86_64-dbg", "6.1-arm64", "6.1-arm64-dbg" }));
        Assert.That(entries.Select(e => e.Series).Distinct(), Is.EqualTo(new[] { "6.1", "6.6", "6.12" }), "numeric, not string, order");
        Assert.That(entries.Where(e => !Regex.IsMatch(e.Name, "^[A-Za-z0-9._-]+$")), Is.Empty, "names usable as job and artifact names");
    }

    [Test]
    public void AnEntryCarriesTheKeysAndArgumentsKilnUses()
    {
        var version = Manifest.Series["6.1"].Version;
        var entry = BuildMatrix.Entry(Repo.Root, Counter, version, Arch.Arm64, "dbg", Toolchain.Gcc);
        var recipe = BuildRecipe.Collect(Repo.Root, version, "arm64", "dbg");

        Assert.That(entry.Name, Is.EqualTo("6.1-arm64-dbg"));
        Assert.That(entry.Version, Is.EqualTo(version.ToString()));
        Assert.That(entry.Key, Is.EqualTo(CacheIdentity.KeyFor(version, Counter, "dbg")), "what --target=CacheKey prints");
        Assert.That(entry.InputHash, Is.EqualTo(recipe.Hash));
        Assert.That(entry.CacheKey, Is.EqualTo($"kiln-{entry.Key}-arm64-{recipe.Hash[..12]}"));
        Assert.That(entry.Args, Is.EqualTo($"--kernel={version} --arch=arm64 --variant=dbg"));
        Assert.That(BuildMatrix.Entry(Repo.Root, Counter, version, Arch.X86_64, "", Toolchain.Gcc).Args, Is.EqualTo($"--kernel={version} --arch=x86_64"));
        Assert.That((entry.Toolchain, entry.OciArch, entry.ImageTag, entry.IndexTag), Is.EqualTo(("gcc", "arm64", entry.Key + "-arm64", entry.Key)),
            "the tags --push gives it: the arch's own and the index of the key");
    }

    [Test]
    public void KatasBuildTypeAndGuestTypeGoIntoEveryJobAndItsInputHash()
    {
        var version = Manifest.Series["6.1"].Version;
        var entry = BuildMatrix.Entry(Repo.Root, Counter, version, Arch.X86_64, "dbg", Toolchain.Gcc, "fast", "confidential");
        var plain = BuildMatrix.Entry(Repo.Root, Counter, version, Arch.X86_64, "dbg", Toolchain.Gcc);
        Assert.That(entry.Name, Is.EqualTo("6.1-x86_64-dbg-fast-confidential"));
        Assert.That(entry.Args, Is.EqualTo($"--kernel={version} --arch=x86_64 --variant=dbg --build-type=fast --conf-guest=confidential"));
        Assert.That(entry.Key, Is.EqualTo(plain.Key), "Kiln's key has no build type, as in the build identity");
        Assert.That(entry.InputHash, Is.EqualTo(BuildRecipe.Collect(Repo.Root, version, "x86_64", "dbg", "fast", "confidential").Hash));
        Assert.That(entry.CacheKey, Is.Not.EqualTo(plain.CacheKey), "a CI cache per build type");
    }

    [Test]
    public void JsonHasGitHubsIncludeShapeWithSnakeCaseFields()
    {
        var entries = BuildMatrix.Expand(Repo.Root, Counter, new[] { Manifest.Series["6.1"].Version }, new[] { Arch.X86_64 }, new[] { "" }, new[] { Toolchain.Gcc });
        var compact = BuildMatrix.ToJson(entries);
        Assert.That(compact, Does.Not.Contain("\n"), "one line for $GITHUB_OUTPUT");

        using var json = JsonDocument.Parse(compact);
        var only = json.RootElement.GetProperty("include").EnumerateArray().Single();
        foreach (var field in new[] { "name", "series", "version", "arch", "variant", "toolchain", "key", "input_hash", "cache_key", "args", "oci_arch", "image_tag", "index_tag" })
            Assert.That(only.TryGetProperty(field, out _), Is.True, field);
        Assert.That(only.GetProperty("variant").GetString(), Is.EqualTo(""));
        using var indented = JsonDocument.Parse(BuildMatrix.ToJson(entries, indented: true));
        Assert.That(JsonSerializer.Serialize(indented.RootElement), Is.EqualTo(compact), "the file form holds the same data");
    }

    [Test]
    public void A_gcc_job_is_what_it_was_before_toolchains()
    {
        // Pinned strings: existing CI caches are keyed by these, and a changed name or cache key would start them cold.
        var version = Manifest.Series["6.1"].Version;
        var entry = BuildMatrix.Entry(Repo.Root, Counter, version, Arch.S390x, "dbg", Toolchain.Gcc);
        var hash = BuildRecipe.Collect(Repo.Root, version, "s390x", "dbg").Hash;
        Assert.That(entry.Name, Is.EqualTo("6.1-s390x-dbg"));
        Assert.That(entry.CacheKey, Is.EqualTo($"kiln-{version}-{Counter}-dbg-s390x-{hash[..12]}"));
        Assert.That(entry.Args, Is.EqualTo($"--kernel={version} --arch=s390x --variant=dbg"));
    }

    [Test]
    public void A_clang_job_has_its_own_name_cache_key_arguments_and_tags()
    {
        var version = Manifest.Series["6.1"].Version;
        var gcc = BuildMatrix.Entry(Repo.Root, Counter, version, Arch.Arm64, "dbg", Toolchain.Gcc);
        var clang = BuildMatrix.Entry(Repo.Root, Counter, version, Arch.Arm64, "dbg", Toolchain.Clang);

        Assert.That(clang.Name, Is.EqualTo("6.1-arm64-dbg-clang"));
        Assert.That(clang.Toolchain, Is.EqualTo("clang"));
        Assert.That(clang.Args, Is.EqualTo(gcc.Args + " --toolchain=clang"));
        Assert.That((clang.Key, clang.InputHash), Is.EqualTo((gcc.Key, gcc.InputHash)), "the toolchain is in neither Kiln's key nor the recipe");
        Assert.That(clang.CacheKey, Is.EqualTo($"kiln-{gcc.Key}-arm64-clang-{gcc.InputHash[..12]}"));
        Assert.That((clang.ImageTag, clang.IndexTag), Is.EqualTo(($"{gcc.Key}-clang-arm64", $"{gcc.Key}-clang")));
        Assert.That((gcc.ImageTag, gcc.IndexTag), Is.EqualTo(($"{gcc.Key}-arm64", gcc.Key)));
    }

    [Test]
    public void Both_toolchains_double_the_jobs_and_every_job_pushes_a_tag_of_its_own()
    {
        var pins = Manifest.Series.Values.Select(p => p.Version).ToList();
        var entries = BuildMatrix.Expand(Repo.Root, Counter, pins, Arch.All, BuildMatrix.Variants, Toolchain.All);

        Assert.That(entries, Has.Count.EqualTo(pins.Count * Arch.All.Count * BuildMatrix.Variants.Count * 2));
        Assert.That(entries.Take(4).Select(e => e.Name), Is.EqualTo(new[] { "6.1-x86_64", "6.1-x86_64-clang", "6.1-x86_64-dbg", "6.1-x86_64-dbg-clang" }));
        Assert.That(entries.Select(e => e.Name), Is.Unique);
        Assert.That(entries.Select(e => e.CacheKey), Is.Unique);
        Assert.That(entries.Select(e => e.ImageTag), Is.Unique, "no job's push replaces another's image");
        // An index lists one platform per arch: the jobs that share one have different arches.
        foreach (var index in entries.GroupBy(e => e.IndexTag))
            Assert.That(index.Select(e => e.OciArch).ToList(), Is.Unique.And.Count.EqualTo(Arch.All.Count), index.Key);
    }
}
