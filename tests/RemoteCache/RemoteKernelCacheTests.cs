using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Kiln.Kernel;
using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.RemoteCache;
using Kiln.Kernel.Sources;

namespace Kiln.Tests.RemoteCache;

/// <summary>
/// The remote cache against a real docker-registry on 127.0.0.1, with small stand-in cache entries
/// (the artifact format does not care how big bzImage is), so every failure mode is tested in seconds.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class RemoteKernelCacheTests
{
    private LocalRegistry _registry = null!;
    private string _work = null!;

    [OneTimeSetUp]
    public void StartRegistry() => _registry = LocalRegistry.Start();

    [OneTimeTearDown]
    public void StopRegistry() => _registry.Dispose();

    [SetUp]
    public void NewWorkDirectory() => _work = Directory.CreateTempSubdirectory("kiln-remote-").FullName;

    [TearDown]
    public void RemoveWorkDirectory() => SourceCache.DeleteDirectory(_work);

    private static CacheIdentity NewIdentity(string key = "6.1.192-1") =>
        new(key, Convert.ToHexStringLower(SHA256.HashData(Guid.NewGuid().ToByteArray())));

    /// <summary>A complete local entry with random file contents; <paramref name="claimedIdentity"/> forges metadata.json.</summary>
    private CachedKernel StoreEntry(string cacheDir, CacheIdentity identity, string? claimedIdentity = null, string arch = "x86_64", string toolchain = "gcc")
    {
        var files = Path.Combine(_work, "files-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(files);
        var inputs = new Dictionary<string, string>();
        foreach (var (name, size) in new[] { ("bzImage", 300_000), ("vmlinux", 70_000), ("System.map", 5_000), ("config", 900) })
        {
            var path = Path.Combine(files, name);
            File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(size));
            inputs[name] = path;
        }
        return new KernelCache(cacheDir).Store(identity, inputs, hashes => new BuildMetadata(
            identity.Key, claimedIdentity ?? identity.Hash, "recipe", "6.1.192", identity.Key, arch, "", "tinyconfig",
            new SourceProvenance("test", "6.1.192", "test", new string('0', 64)), new Dictionary<string, string> { ["name"] = toolchain },
            new Dictionary<string, double>(), hashes, Array.Empty<string>(), Array.Empty<string>()));
    }

    private RemoteKernelCache Remote(RecordingLog log, string? address = null) =>
        new(RegistryReference.Parse(address ?? _registry.Address()), log);

    private string Cache(string name) => Path.Combine(_work, name);

    private OciRegistryClient Client() => new(RegistryReference.Parse(_registry.Address()));

    /// <summary>A new entry of <paramref name="identity"/> in its own local cache, pushed to the registry.</summary>
    private CachedKernel StoreAndPush(CacheIdentity identity, string arch = "x86_64")
    {
        var built = StoreEntry(Cache("local-" + Guid.NewGuid().ToString("N")[..6]), identity, arch: arch);
        using var remote = Remote(new RecordingLog());
        remote.Push(built, identity);
        return built;
    }

    [Test]
    public void A_pushed_entry_is_pulled_into_another_cache_byte_for_byte()
    {
        var identity = NewIdentity();
        var built = StoreEntry(Cache("ci-run-1"), identity);
        var log = new RecordingLog();
        using (var remote = Remote(log))
            Assert.That(remote.Push(built, identity), Is.True, string.Join("\n", log.Lines));

        var pulled = Remote(log).TryPull(identity, new KernelCache(Cache("ci-run-2")));
        Assert.That(pulled, Is.Not.Null, string.Join("\n", log.Lines));
        Assert.That(log.Lines, Has.Some.Contains("pulled from " + _registry.Address() + ":" + identity.EntryName));
        foreach (var name in built.Metadata.Files.Keys.Append(BuildMetadata.FileName))
            Assert.That(File.ReadAllBytes(pulled!.File(name)), Is.EqualTo(File.ReadAllBytes(built.File(name))), name);
        Assert.That(pulled!.Directory, Is.EqualTo(new KernelCache(Cache("ci-run-2")).EntryDirectory(identity)));
        Assert.That(Directory.GetDirectories(new KernelCache(Cache("ci-run-2")).Root, ".*"), Is.Empty, "no staging left behind");
    }

    [Test]
    public void The_artifact_is_an_OCI_manifest_tagged_with_the_identity_and_the_arch_and_listed_in_the_key_index()
    {
        var identity = NewIdentity("6.1.192-7");
        StoreAndPush(identity);

        using var client = Client();
        var digests = new HashSet<string>();
        foreach (var tag in new[] { identity.EntryName, "6.1.192-7-amd64" })
        {
            var found = client.GetManifestAsync(tag).GetAwaiter().GetResult();
            Assert.That(found, Is.Not.Null, tag);
            digests.Add(found!.Digest);
            var manifest = OciManifest.Parse(found.Body)!;
            Assert.That(manifest.MediaType, Is.EqualTo("application/vnd.oci.image.manifest.v1+json"));
            Assert.That(manifest.ArtifactType, Is.EqualTo(RemoteKernelCache.ArtifactType));
            Assert.That(manifest.Config.MediaType, Is.EqualTo("application/vnd.oci.empty.v1+json"));
            Assert.That(manifest.Annotations![RemoteKernelCache.IdentityAnnotation], Is.EqualTo(identity.Hash));
            Assert.That(manifest.Layers.Select(l => l.Annotations![OciManifest.TitleAnnotation]),
                Is.EquivalentTo(new[] { "bzImage", "vmlinux", "System.map", "config", "metadata.json" }));
        }
        Assert.That(digests, Has.Count.EqualTo(1), "both tags name one manifest");
        var index = client.GetManifestAsync(identity.Key).GetAwaiter().GetResult()!;
        Assert.That(index.MediaType, Is.EqualTo(OciIndex.IndexMediaType));
        var entry = OciIndex.Parse(index.Body)!.Manifests.Single();
        Assert.That((entry.Digest, entry.Platform, entry.ArtifactType), Is.EqualTo((digests.Single(), Arch.X86_64.OciPlatform, RemoteKernelCache.ArtifactType)));
    }

    private OciIndex KeyIndex(string key)
    {
        using var client = Client();
        return OciIndex.Parse(client.GetManifestAsync(key).GetAwaiter().GetResult()!.Body)!;
    }

    [Test]
    public void Two_arches_of_one_key_each_keep_their_entry_and_pull_by_their_identity()
    {
        var amd64 = NewIdentity("6.1.192-8");
        var arm64 = NewIdentity("6.1.192-8");
        var builds = new[] { StoreEntry(Cache("x86"), amd64), StoreEntry(Cache("arm"), arm64, arch: "arm64") };
        // Two CI jobs of one matrix push at the same time.
        Task.WaitAll(Task.Run(() => { using var r = Remote(new RecordingLog()); r.Push(builds[0], amd64); }),
                     Task.Run(() => { using var r = Remote(new RecordingLog()); r.Push(builds[1], arm64); }));

        Assert.That(KeyIndex("6.1.192-8").Manifests.Select(m => m.Platform), Is.EqualTo(new[] { Arch.X86_64.OciPlatform, Arch.Arm64.OciPlatform }));
        foreach (var (identity, built) in new[] { (amd64, builds[0]), (arm64, builds[1]) })
        {
            var pulled = Remote(new RecordingLog()).TryPull(identity, new KernelCache(Cache("pull-" + built.Metadata.Arch)));
            Assert.That(pulled?.Metadata.Arch, Is.EqualTo(built.Metadata.Arch));
        }
    }

    [Test]
    public void A_clang_build_has_its_own_arch_tag_and_index_and_leaves_the_gcc_build_of_its_arch_in_place()
    {
        var gcc = NewIdentity("6.1.192-10");
        var clang = NewIdentity("6.1.192-10");
        var gccBuild = StoreEntry(Cache("gcc"), gcc);
        var clangBuild = StoreEntry(Cache("clang"), clang, toolchain: "clang");
        Task.WaitAll(Task.Run(() => { using var r = Remote(new RecordingLog()); r.Push(gccBuild, gcc); }),
                     Task.Run(() => { using var r = Remote(new RecordingLog()); r.Push(clangBuild, clang); }));

        using var client = Client();
        string DigestOf(string tag) => client.GetManifestAsync(tag).GetAwaiter().GetResult()!.Digest;
        Assert.That(DigestOf("6.1.192-10-amd64"), Is.EqualTo(DigestOf(gcc.EntryName)));
        Assert.That(DigestOf("6.1.192-10-clang-amd64"), Is.EqualTo(DigestOf(clang.EntryName)));
        Assert.That(KeyIndex("6.1.192-10").Manifests.Select(m => m.Digest), Is.EqualTo(new[] { DigestOf(gcc.EntryName) }));
        Assert.That(KeyIndex("6.1.192-10-clang").Manifests.Select(m => m.Digest), Is.EqualTo(new[] { DigestOf(clang.EntryName) }));
    }

    [Test]
    public void An_entry_an_older_kiln_tagged_with_the_key_alone_stays_listed_under_its_arch()
    {
        var old = NewIdentity("6.1.192-9");
        StoreAndPush(old);
        // An older Kiln put the artifact itself under <key>, not an index.
        using var client = Client();
        var oldManifest = client.GetManifestAsync(old.EntryName).GetAwaiter().GetResult()!;
        client.PutManifestAsync(old.Key, oldManifest.Body).GetAwaiter().GetResult();

        var arm64 = NewIdentity("6.1.192-9");
        StoreAndPush(arm64, "arm64");

        var entries = KeyIndex(old.Key).Manifests;
        Assert.That(entries.Select(m => (m.Platform, m.Digest)), Is.EqualTo(new[]
        {
            (Arch.X86_64.OciPlatform, oldManifest.Digest),
            (Arch.Arm64.OciPlatform, client.GetManifestAsync(arm64.EntryName).GetAwaiter().GetResult()!.Digest),
        }));
        Assert.That(Remote(new RecordingLog()).TryPull(old, new KernelCache(Cache("pull"))), Is.Not.Null, "the older entry still pulls by its identity");
    }

    [Test]
    public void A_second_push_of_the_same_identity_is_skipped()
    {
        var identity = NewIdentity();
        var built = StoreEntry(Cache("local"), identity);
        var log = new RecordingLog();
        using var remote = Remote(log);
        Assert.That(remote.Push(built, identity), Is.True);
        Assert.That(remote.Push(built, identity), Is.False);
        Assert.That(log.Lines, Has.Some.Contains("is already there"));
    }

    [Test]
    public void An_identity_that_was_never_pushed_is_a_miss_without_a_warning()
    {
        var log = new RecordingLog();
        Assert.That(Remote(log).TryPull(NewIdentity(), new KernelCache(Cache("local"))), Is.Null);
        Assert.That(log.Lines, Has.None.StartsWith("warning"));
        Assert.That(log.Lines, Has.Some.Contains("is not there yet"));
    }

    [Test]
    public void A_corrupt_blob_is_ignored_with_a_warning_and_nothing_enters_the_local_cache()
    {
        var identity = NewIdentity();
        var built = StoreEntry(Cache("ci-run-1"), identity);
        using (var remote = Remote(new RecordingLog())) remote.Push(built, identity);
        var blob = _registry.BlobPath("sha256:" + built.Metadata.Files["bzImage"]);
        var bytes = File.ReadAllBytes(blob);
        bytes[1000] ^= 0xff;
        File.WriteAllBytes(blob, bytes);

        var log = new RecordingLog();
        var local = new KernelCache(Cache("ci-run-2"));
        Assert.That(Remote(log).TryPull(identity, local), Is.Null);
        Assert.That(log.Lines, Has.Some.Matches<string>(l => l.StartsWith("warning") && l.Contains("hashes to") && l.Contains("built locally")));
        Assert.That(Directory.Exists(local.EntryDirectory(identity)), Is.False, "nothing unverified enters the local cache");
        Assert.That(Directory.GetDirectories(local.Root, ".*"), Is.Empty, "no staging left behind");
    }

    [Test]
    public void Metadata_that_names_another_identity_is_ignored()
    {
        var identity = NewIdentity();
        var forged = StoreEntry(Cache("local"), identity, claimedIdentity: new string('a', 64));
        using (var remote = Remote(new RecordingLog())) remote.Push(forged, identity);

        var log = new RecordingLog();
        var local = new KernelCache(Cache("ci-run-2"));
        Assert.That(Remote(log).TryPull(identity, local), Is.Null);
        Assert.That(log.Lines, Has.Some.Matches<string>(l => l.StartsWith("warning") && l.Contains("built for other inputs")));
        Assert.That(Directory.Exists(local.EntryDirectory(identity)), Is.False);
    }

    [Test]
    public void A_manifest_of_another_identity_under_this_tag_is_ignored()
    {
        var other = NewIdentity();
        var built = StoreEntry(Cache("local"), other);
        using (var remote = Remote(new RecordingLog())) remote.Push(built, other);
        // Someone re-tags another identity's artifact with ours (a reused key or a hash12 collision).
        var mine = new CacheIdentity(other.Key, other.Hash[..12] + new string('f', 52));
        using var client = Client();
        var manifest = client.GetManifestAsync(other.EntryName).GetAwaiter().GetResult()!.Body;
        client.PutManifestAsync(mine.EntryName, manifest).GetAwaiter().GetResult();

        var log = new RecordingLog();
        Assert.That(Remote(log).TryPull(mine, new KernelCache(Cache("ci-run-2"))), Is.Null);
        Assert.That(log.Lines, Has.Some.Matches<string>(l => l.StartsWith("warning") && l.Contains("pushed for identity " + other.Hash)));
    }

    [Test]
    public void A_registry_that_is_down_is_a_quick_warning_for_pull_and_push()
    {
        var identity = NewIdentity();
        var built = StoreEntry(Cache("local"), identity);
        var log = new RecordingLog();
        var watch = Stopwatch.StartNew();
        using var remote = Remote(log, $"127.0.0.1:{LocalRegistry.FreePort()}/kiln/kernels");
        Assert.That(remote.TryPull(identity, new KernelCache(Cache("other"))), Is.Null);
        Assert.That(remote.Push(built, identity), Is.False);
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
        Assert.That(log.Lines.Count(l => l.StartsWith("warning")), Is.EqualTo(2), string.Join("\n", log.Lines));
        Assert.That(log.Lines, Has.Some.Contains("is unavailable").And.Contains("building locally"));
        Assert.That(log.Lines, Has.Some.Contains("Could not push"));
    }
}

/// <summary>Parsing --cache-registry (no registry needed).</summary>
[TestFixture]
public sealed class RegistryReferenceTests
{
    [TestCase("127.0.0.1:5000/kiln/kernels", "http://127.0.0.1:5000/", "kiln/kernels")]
    [TestCase("localhost:5000/kiln", "http://localhost:5000/", "kiln")]
    [TestCase("[::1]:5000/kiln", "http://[::1]:5000/", "kiln")]
    [TestCase("ghcr.io/org/kiln-cache", "https://ghcr.io/", "org/kiln-cache")]
    [TestCase("http://registry.internal:5000/kiln", "http://registry.internal:5000/", "kiln")]
    [TestCase("https://127.0.0.1:5443/kiln", "https://127.0.0.1:5443/", "kiln")]
    public void Parses_host_port_and_repository(string value, string baseUri, string repository)
    {
        var reference = RegistryReference.Parse(value);
        Assert.That(reference.BaseUri.ToString(), Is.EqualTo(baseUri));
        Assert.That(reference.Repository, Is.EqualTo(repository));
    }

    [TestCase("127.0.0.1:5000")]
    [TestCase("127.0.0.1:5000/")]
    [TestCase("/kiln")]
    [TestCase("127.0.0.1:5000/Kiln")]
    [TestCase("127.0.0.1:5000/kiln//kernels")]
    [TestCase("host:notaport/kiln")]
    public void Rejects_what_is_not_host_and_repository(string value)
    {
        var e = Assert.Throws<KilnException>(() => RegistryReference.Parse(value));
        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("--cache-registry"));
    }

    [TestCase("docker://registry.example:5000/kiln/kernel", false, "https://registry.example:5000/", "kiln/kernel")]
    [TestCase("docker://registry.example:5000/kiln/kernel", true, "http://registry.example:5000/", "kiln/kernel")]
    [TestCase("127.0.0.1:5000/kiln/kernel", false, "http://127.0.0.1:5000/", "kiln/kernel")]
    [TestCase("docker://[::1]:5000/kiln", false, "http://[::1]:5000/", "kiln")]
    public void Parses_the_push_repository(string value, bool insecure, string baseUri, string repository)
    {
        var reference = RegistryReference.ParsePush(value, insecure);
        Assert.That((reference.BaseUri.ToString(), reference.Repository), Is.EqualTo((baseUri, repository)));
    }

    [TestCase("oci:/tmp/layout")]
    [TestCase("docker://127.0.0.1:5000")]
    [TestCase("https://127.0.0.1:5000/kiln")]
    [TestCase("docker://127.0.0.1:5000/kiln/kernel:6.1.192-1")]
    public void Rejects_a_push_destination_that_is_not_a_repository(string value)
    {
        var e = Assert.Throws<KilnException>(() => RegistryReference.ParsePush(value, plainHttp: false));
        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.StartWith($"--push={value}:"));
    }

    [Test]
    public void The_manifest_round_trips_and_rejects_garbage()
    {
        var manifest = new OciManifest(2, OciManifest.ManifestMediaType, RemoteKernelCache.ArtifactType,
            new OciDescriptor(OciManifest.EmptyMediaType, "sha256:" + new string('4', 64), 2),
            new[] { new OciDescriptor(RemoteKernelCache.FileMediaType, "sha256:" + new string('1', 64), 10, new Dictionary<string, string> { ["org.opencontainers.image.title"] = "bzImage" }) });
        var json = Encoding.UTF8.GetString(manifest.ToJson());
        Assert.That(json, Does.Contain("\"artifactType\":\"application/vnd.kiln.kernel.v1\"").And.Contain("\"schemaVersion\":2"));
        Assert.That(OciManifest.Parse(manifest.ToJson())!.Layers.Single().Digest, Is.EqualTo(manifest.Layers[0].Digest));
        Assert.That(OciManifest.Parse("not json"u8.ToArray()), Is.Null);
        Assert.That(OciManifest.Parse("{\"schemaVersion\":2}"u8.ToArray()), Is.Null);
    }
}
