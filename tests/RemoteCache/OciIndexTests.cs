using System.Text;
using Kiln.Kernel;
using Kiln.Kernel.RemoteCache;

namespace Kiln.Tests.RemoteCache;

/// <summary>The multi-arch index's merge and its check after a write (no registry needed).</summary>
[TestFixture]
public sealed class OciIndexTests
{
    private static OciDescriptor Entry(Arch arch, char digit) =>
        new(OciManifest.ManifestMediaType, "sha256:" + new string(digit, 64), 500, Platform: arch.OciPlatform);

    private static readonly OciDescriptor Amd64 = Entry(Arch.X86_64, '1');
    private static readonly OciDescriptor Arm64 = Entry(Arch.Arm64, '2');

    [Test]
    public void Adding_an_arch_keeps_the_other_arches()
    {
        var index = OciIndex.Empty.With(Amd64).With(Arm64);
        Assert.That(index.Manifests.Select(m => m.Platform!.ToString()), Is.EqualTo(new[] { "linux/amd64", "linux/arm64/v8" }));
        Assert.That(index.Manifests.Select(m => m.Digest), Is.EqualTo(new[] { Amd64.Digest, Arm64.Digest }));
    }

    [Test]
    public void Adding_an_arch_again_replaces_its_entry_only()
    {
        var newer = Entry(Arch.X86_64, '3');
        var index = OciIndex.Empty.With(Amd64).With(Arm64).With(newer);
        Assert.That(index.Manifests.Select(m => m.Digest), Is.EqualTo(new[] { newer.Digest, Arm64.Digest }));
    }

    [Test]
    public void Two_writers_that_merge_the_same_entries_write_the_same_bytes()
    {
        var first = OciIndex.Empty.With(Amd64).With(Arm64).ToJson();
        var second = OciIndex.Empty.With(Arm64).With(Amd64).ToJson();
        Assert.That(second, Is.EqualTo(first));
    }

    [Test]
    public void An_entry_of_another_variant_is_another_platform()
    {
        var v9 = Arm64 with { Digest = "sha256:" + new string('9', 64), Platform = new OciPlatform("arm64", "linux", "v9") };
        Assert.That(OciIndex.Empty.With(Arm64).With(v9).Manifests, Has.Count.EqualTo(2));
    }

    [Test]
    public void An_entry_without_a_platform_is_kept()
    {
        var unplatformed = new OciDescriptor(OciManifest.ManifestMediaType, "sha256:" + new string('7', 64), 10);
        var index = new OciIndex(2, OciIndex.IndexMediaType, [unplatformed]).With(Amd64);
        Assert.That(index.Manifests.Select(m => m.Digest), Is.EqualTo(new[] { unplatformed.Digest, Amd64.Digest }));
    }

    [Test]
    public void An_entry_must_name_its_platform_to_be_added() =>
        Assert.Throws<ArgumentException>(() => OciIndex.Empty.With(Amd64 with { Platform = null }));

    [Test]
    public void What_was_read_back_keeps_the_write_when_it_lists_the_entry_and_every_platform_read_before()
    {
        var before = OciIndex.Empty.With(Amd64);
        Assert.That(before.With(Arm64).Keeps(before, Arm64), Is.True);
        // Another writer's newer amd64 build replacing the one read before is not a loss.
        Assert.That(before.With(Arm64).With(Entry(Arch.X86_64, '5')).Keeps(before, Arm64), Is.True);
    }

    [Test]
    public void What_was_read_back_lost_the_write_when_a_stale_writer_overwrote_it()
    {
        var before = OciIndex.Empty.With(Amd64);
        // The other writer read the empty index too and wrote only its own entry after this one's write.
        Assert.That(OciIndex.Empty.With(Amd64).Keeps(before, Arm64), Is.False, "this writer's entry is gone");
        Assert.That(OciIndex.Empty.With(Arm64).Keeps(before, Arm64), Is.False, "the amd64 entry read before is gone");
    }

    [Test]
    public void The_index_json_carries_the_platforms_as_the_oci_spec_names_them()
    {
        var json = Encoding.UTF8.GetString(OciIndex.Empty.With(Arm64).ToJson());
        Assert.That(json, Does.StartWith("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"""));
        Assert.That(json, Does.Contain("""platform":{"architecture":"arm64","os":"linux","variant":"v8"}"""));
        Assert.That(Encoding.UTF8.GetString(OciIndex.Empty.With(Amd64).ToJson()), Does.Not.Contain("variant"));
    }

    [Test]
    public void Parses_oci_indexes_and_docker_manifest_lists_and_rejects_the_rest()
    {
        var parsed = OciIndex.Parse(OciIndex.Empty.With(Amd64).With(Arm64).ToJson())!;
        Assert.That(parsed.Manifests.Select(m => m.Platform), Is.EqualTo(new[] { Arch.X86_64.OciPlatform, Arch.Arm64.OciPlatform }));
        var dockerList = """{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:aa","size":1,"platform":{"architecture":"amd64","os":"linux"}}]}""";
        Assert.That(OciIndex.Parse(Encoding.UTF8.GetBytes(dockerList))!.Manifests.Single().Platform, Is.EqualTo(Arch.X86_64.OciPlatform));
        Assert.That(OciIndex.Parse("not json"u8.ToArray()), Is.Null);
        Assert.That(OciIndex.Parse("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}"""u8.ToArray()), Is.Null);
        Assert.That(OciIndex.Parse("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"""u8.ToArray()), Is.Null);
    }
}
