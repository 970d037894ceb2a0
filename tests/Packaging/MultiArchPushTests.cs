using System.Text.Json.Nodes;
using Kiln.Kernel;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Packaging;
using Kiln.Kernel.Processes;
using Kiln.Kernel.RemoteCache;
using Kiln.Tests.Config;
using Kiln.Tests.RemoteCache;

namespace Kiln.Tests.Packaging;

/// <summary>
/// PackageStage1's push of small fabricated x86_64 and arm64 kernels to Debian's docker-registry: each arch under its
/// own tag and both in the index under the key, pushed one after the other and at the same time, read back with skopeo.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class MultiArchPushTests
{
    private LocalRegistry _registry = null!;
    private TempDirectory _work = null!;
    private FakeKernel _amd64Kernel = null!;
    private FakeKernel _arm64Kernel = null!;
    private OciImage _amd64 = null!;
    private OciImage _arm64 = null!;
    private RegistryReference Repository => RegistryReference.ParsePush(_registry.Address("kiln/kernel"), plainHttp: true);

    [OneTimeSetUp]
    public void PackageTwoArchesAndStartTheRegistry()
    {
        if (!Kiln.Kernel.Packaging.Skopeo.IsInstalled) Assert.Fail("skopeo is missing: apt-get install -y skopeo (.ci/run installs it)");
        _registry = LocalRegistry.Start();
        _work = new TempDirectory();
        _amd64Kernel = new FakeKernel(arch: "x86_64");
        _arm64Kernel = new FakeKernel(arch: "arm64");
        _amd64 = Package(_amd64Kernel, "amd64");
        _arm64 = Package(_arm64Kernel, "arm64");
    }

    [OneTimeTearDown]
    public void Clean()
    {
        _registry.Dispose();
        _amd64Kernel.Dispose();
        _arm64Kernel.Dispose();
        _work.Dispose();
    }

    private OciImage Package(FakeKernel fake, string name) =>
        KernelPackager.Package(new PackageRequest(fake.Kernel, fake.ImageName, Path.Combine(_work.Path, name, "package"),
            Path.Combine(TestPaths.RepositoryRoot, "stage1", "manifest.json.in"), "/usr", Path.Combine(_work.Path, name, "kata")), new RecordingLog()).Oci;

    /// <summary>Pushes with a client of its own, as a separate PackageStage1 run does; the package's key is 6.1.192-1, pushed under <paramref name="key"/>.</summary>
    private PushedImage Push(OciImage image, string key)
    {
        using var client = new OciRegistryClient(Repository);
        return OciImagePush.PushAsync(image with { Tag = $"{key}-{image.Platform.Architecture}" }, key, Repository, client).GetAwaiter().GetResult();
    }

    private static string RunSkopeo(params string[] args) =>
        new Command("skopeo", args) { Purpose = "skopeo " + args[0] }.Run(new RecordingLog()).StandardOutput;

    /// <summary>What <c>skopeo inspect --raw</c> shows under the key: each entry's platform and digest.</summary>
    private Dictionary<string, string> RawIndex(string key)
    {
        var index = JsonNode.Parse(RunSkopeo("inspect", "--raw", "--tls-verify=false", $"docker://{Repository}:{key}"))!;
        Assert.That(index["mediaType"]!.GetValue<string>(), Is.EqualTo(OciIndex.IndexMediaType));
        return index["manifests"]!.AsArray().ToDictionary(
            m => string.Join('/', new[] { "os", "architecture", "variant" }.Select(f => m!["platform"]![f]?.GetValue<string>()).OfType<string>()),
            m => m!["digest"]!.GetValue<string>());
    }

    /// <summary>The manifest digest <c>skopeo copy --override-arch</c> picks from the index under the key.</summary>
    private string CopiedDigestFor(string key, string arch)
    {
        var layout = Path.Combine(_work.Path, "copy-" + Guid.NewGuid().ToString("N")[..8]);
        RunSkopeo("--override-arch", arch, "--override-os", "linux", "copy", "--src-tls-verify=false", $"docker://{Repository}:{key}", $"oci:{layout}:picked");
        return JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))!["manifests"]![0]!["digest"]!.GetValue<string>();
    }

    [Test]
    public void Pushing_arm64_after_x86_64_adds_to_the_index_and_skopeo_picks_each()
    {
        const string key = "6.1.192-1";
        var first = Push(_amd64, key);
        Assert.That(first.Index.Manifests.Select(m => m.Platform), Is.EqualTo(new[] { Arch.X86_64.OciPlatform }));
        var second = Push(_arm64, key);
        Assert.That(second.ArchReference, Is.EqualTo($"{Repository}:{key}-arm64"));
        Assert.That(second.IndexReference, Is.EqualTo($"{Repository}:{key}"));

        Assert.That(RawIndex(key), Is.EqualTo(new Dictionary<string, string>
        {
            ["linux/amd64"] = _amd64.ManifestDigest,
            ["linux/arm64/v8"] = _arm64.ManifestDigest,
        }));
        Assert.That(CopiedDigestFor(key, "amd64"), Is.EqualTo(_amd64.ManifestDigest));
        Assert.That(CopiedDigestFor(key, "arm64"), Is.EqualTo(_arm64.ManifestDigest));
        var archTag = JsonNode.Parse(RunSkopeo("inspect", "--tls-verify=false", $"docker://{Repository}:{key}-arm64"))!;
        Assert.That((archTag["Digest"]!.GetValue<string>(), archTag["Architecture"]!.GetValue<string>()), Is.EqualTo((_arm64.ManifestDigest, "arm64")));

        // The same arch again replaces only its own entry.
        Push(_amd64, key);
        Assert.That(RawIndex(key).Keys, Is.EquivalentTo(new[] { "linux/amd64", "linux/arm64/v8" }));
    }

    [Test]
    public void Two_arches_pushed_at_the_same_time_are_both_listed()
    {
        const string key = "6.1.192-2";
        Task.WaitAll(Task.Run(() => Push(_amd64, key)), Task.Run(() => Push(_arm64, key)));
        Assert.That(RawIndex(key), Is.EqualTo(new Dictionary<string, string>
        {
            ["linux/amd64"] = _amd64.ManifestDigest,
            ["linux/arm64/v8"] = _arm64.ManifestDigest,
        }));
    }

    [Test]
    public void Two_index_merges_that_read_the_same_empty_index_lose_neither_arch()
    {
        // Both manifests are in the registry first, so the two merges start together and both read before either writes.
        foreach (var round in Enumerable.Range(1, 3))
        {
            var key = $"6.1.192-race{round}";
            Push(_amd64, key + "-seed");
            Push(_arm64, key + "-seed");
            using var start = new Barrier(2);
            var merges = new[] { _amd64, _arm64 }.Select(image => Task.Run(() =>
            {
                using var client = new OciRegistryClient(Repository);
                var entry = new OciDescriptor(OciLayout.ManifestMediaType, image.ManifestDigest, image.ManifestSize, Platform: image.Platform);
                start.SignalAndWait();
                return new MultiArchTag(client, key).AddAsync(entry).GetAwaiter().GetResult();
            })).ToArray();
            Task.WaitAll(merges);
            Assert.That(RawIndex(key).Keys, Is.EquivalentTo(new[] { "linux/amd64", "linux/arm64/v8" }), $"round {round}");
        }
    }

    [Test]
    public void A_single_manifest_an_older_kiln_pushed_under_the_key_becomes_its_arch_entry()
    {
        const string key = "6.1.192-3";
        // What --push did before the index: skopeo copied the layout to REPO:<key>.
        RunSkopeo("copy", "--preserve-digests", "--dest-tls-verify=false", $"oci:{_amd64.Directory}:{_amd64.Tag}", $"docker://{Repository}:{key}");
        Push(_arm64, key);
        Assert.That(RawIndex(key), Is.EqualTo(new Dictionary<string, string>
        {
            ["linux/amd64"] = _amd64.ManifestDigest,
            ["linux/arm64/v8"] = _arm64.ManifestDigest,
        }));
    }
}
