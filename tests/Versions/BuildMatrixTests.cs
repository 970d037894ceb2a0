using System.Text.Json;
using System.Text.RegularExpressions;
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
        var entries = BuildMatrix.Expand(Repo.Root, Counter, pins, BuildMatrix.Arches, BuildMatrix.Variants);

        Assert.That(entries, Has.Count.EqualTo(pins.Count * Kiln.Kernel.Arch.All.Count * 2));
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
        var entry = BuildMatrix.Entry(Repo.Root, Counter, version, "arm64", "dbg");
        var recipe = BuildRecipe.Collect(Repo.Root, version, "arm64", "dbg");

        Assert.That(entry.Name, Is.EqualTo("6.1-arm64-dbg"));
        Assert.That(entry.Version, Is.EqualTo(version.ToString()));
        Assert.That(entry.Key, Is.EqualTo(CacheIdentity.KeyFor(version, Counter, "dbg")), "what --target=CacheKey prints");
        Assert.That(entry.InputHash, Is.EqualTo(recipe.Hash));
        Assert.That(entry.CacheKey, Is.EqualTo($"kiln-{entry.Key}-arm64-{recipe.Hash[..12]}"));
        Assert.That(entry.Args, Is.EqualTo($"--kernel={version} --arch=arm64 --variant=dbg"));
        Assert.That(BuildMatrix.Entry(Repo.Root, Counter, version, "x86_64", "").Args, Is.EqualTo($"--kernel={version} --arch=x86_64"));
    }

    [Test]
    public void KatasBuildTypeAndGuestTypeGoIntoEveryJobAndItsInputHash()
    {
        var version = Manifest.Series["6.1"].Version;
        var entry = BuildMatrix.Entry(Repo.Root, Counter, version, "x86_64", "dbg", "fast", "confidential");
        var plain = BuildMatrix.Entry(Repo.Root, Counter, version, "x86_64", "dbg");
        Assert.That(entry.Name, Is.EqualTo("6.1-x86_64-dbg-fast-confidential"));
        Assert.That(entry.Args, Is.EqualTo($"--kernel={version} --arch=x86_64 --variant=dbg --build-type=fast --conf-guest=confidential"));
        Assert.That(entry.Key, Is.EqualTo(plain.Key), "Kiln's key has no build type, as in the build identity");
        Assert.That(entry.InputHash, Is.EqualTo(BuildRecipe.Collect(Repo.Root, version, "x86_64", "dbg", "fast", "confidential").Hash));
        Assert.That(entry.CacheKey, Is.Not.EqualTo(plain.CacheKey), "a CI cache per build type");
    }

    [Test]
    public void JsonHasGitHubsIncludeShapeWithSnakeCaseFields()
    {
        var entries = BuildMatrix.Expand(Repo.Root, Counter, new[] { Manifest.Series["6.1"].Version }, new[] { "x86_64" }, new[] { "" });
        var compact = BuildMatrix.ToJson(entries);
        Assert.That(compact, Does.Not.Contain("\n"), "one line for $GITHUB_OUTPUT");

        using var json = JsonDocument.Parse(compact);
        var only = json.RootElement.GetProperty("include").EnumerateArray().Single();
        foreach (var field in new[] { "name", "series", "version", "arch", "variant", "key", "input_hash", "cache_key", "args" })
            Assert.That(only.TryGetProperty(field, out _), Is.True, field);
        Assert.That(only.GetProperty("variant").GetString(), Is.EqualTo(""));
        using var indented = JsonDocument.Parse(BuildMatrix.ToJson(entries, indented: true));
        Assert.That(JsonSerializer.Serialize(indented.RootElement), Is.EqualTo(compact), "the file form holds the same data");
    }
}
