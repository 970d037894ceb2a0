using System.Diagnostics;
using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.RemoteCache;

/// <summary>
/// Built kernels shared through an OCI registry, one artifact per cache entry: every file of the entry
/// (bzImage, vmlinux, System.map, config, metadata.json) is a layer titled with its name, the manifest is
/// annotated with the full identity hash, and it is tagged <c>&lt;key&gt;-&lt;hash12&gt;</c> (what a pull asks for,
/// so a reused key never serves another identity) and its arch's tag (the latest build of that key for that arch and
/// toolchain), and listed in the index of its key and toolchain (every arch's latest, for people and CI dashboards);
/// see <see cref="RegistryTags"/>.
/// Nothing the registry does can fail a build: an unreachable registry or a corrupt artifact is a warning and the
/// kernel is built locally.
/// </summary>
public sealed class RemoteKernelCache : IDisposable
{
    public const string ArtifactType = "application/vnd.kiln.kernel.v1";
    public const string FileMediaType = "application/vnd.kiln.kernel.file.v1";
    public const string IdentityAnnotation = "dev.kiln.identity-hash";
    public const string KeyAnnotation = "dev.kiln.cache-key";
    private const int MaxFiles = 64;
    private const long MaxMetadataBytes = 1 << 20;

    private readonly OciRegistryClient _client;
    private readonly IKilnLog _log;

    public RemoteKernelCache(RegistryReference registry, IKilnLog log, RegistryCredentials? credentials = null, TimeSpan? connectTimeout = null)
    {
        Registry = registry;
        _log = log;
        _client = new OciRegistryClient(registry, credentials, connectTimeout);
    }

    public RegistryReference Registry { get; }

    public void Dispose() => _client.Dispose();

    /// <summary>The tag that names exactly this identity.</summary>
    public static string ExactTag(CacheIdentity identity) => identity.EntryName;

    public string Describe(string tag) => $"{Registry}:{tag}";

    /// <summary>
    /// Pulls this identity's entry into the local cache, verified (manifest digest, identity, every blob's
    /// digest and size, metadata.json's identity and every file's sha256) and renamed into place.
    /// Null when the registry has none, is unavailable, or holds something that fails verification.
    /// </summary>
    public CachedKernel? TryPull(CacheIdentity identity, KernelCache local)
    {
        var tag = ExactTag(identity);
        var watch = Stopwatch.StartNew();
        string? staging = null;
        try
        {
            var found = _client.GetManifestAsync(tag).GetAwaiter().GetResult();
            if (found is null)
            {
                _log.Info($"Remote cache: {Describe(tag)} is not there yet");
                return null;
            }
            var manifest = OciManifest.Parse(found.Body) ?? throw new InvalidArtifactException("its manifest is not an OCI image manifest");
            var files = CheckManifest(manifest, identity);

            staging = local.NewStagingDirectory(identity);
            foreach (var (name, layer) in files)
                _client.DownloadBlobAsync(layer, Path.Combine(staging, name)).GetAwaiter().GetResult();
            var entry = local.TryCommit(identity, staging, out var problem) ?? throw new InvalidArtifactException(problem!);
            var bytes = files.Sum(f => f.Layer.Size);
            _log.Info($"Cache hit: Linux {entry.Metadata.Release} pulled from {Describe(tag)} ({found.Digest[..19]}, " +
                      $"{bytes / 1048576.0:F1} MiB in {watch.Elapsed.TotalSeconds:F1} s) into {entry.Directory}");
            return entry;
        }
        catch (RegistryUnavailableException e)
        {
            _log.Warning($"Remote cache {Registry} is unavailable ({e.Message}); building locally.");
            return null;
        }
        catch (InvalidArtifactException e)
        {
            // A registry never replaces a blob it holds (distribution skips uploads of a known digest), so a
            // corrupt blob stays until someone removes it: say so rather than promise a repairing push.
            _log.Warning($"Ignoring {Describe(tag)} from the remote cache: {e.Message}. The kernel will be built locally; " +
                         "delete that tag and garbage-collect the registry so a later push can replace it.");
            return null;
        }
        finally
        {
            if (staging is not null) SourceCache.DeleteDirectory(staging);
        }
    }

    /// <summary>
    /// Pushes a verified local entry (after it built and booted). Skips when the registry already has a manifest
    /// for this identity; returns whether it pushed. Registry trouble is a warning: the build has succeeded.
    /// </summary>
    public bool Push(CachedKernel entry, CacheIdentity identity)
    {
        var tag = ExactTag(identity);
        var watch = Stopwatch.StartNew();
        try
        {
            if (HasManifestFor(tag, identity))
            {
                _log.Info($"Remote cache: {Describe(tag)} is already there; not pushing");
                return false;
            }
            var layers = new List<OciDescriptor>();
            foreach (var name in entry.Metadata.Files.Keys.Append(BuildMetadata.FileName).Order(StringComparer.Ordinal))
            {
                var path = entry.File(name);
                var digest = "sha256:" + SourceCache.FileSha256(path);
                var size = new FileInfo(path).Length;
                _client.UploadBlobAsync(digest, () => File.OpenRead(path), size).GetAwaiter().GetResult();
                layers.Add(new OciDescriptor(FileMediaType, digest, size, new Dictionary<string, string> { [OciManifest.TitleAnnotation] = name }));
            }
            var config = new OciDescriptor(OciManifest.EmptyMediaType, OciRegistryClient.DigestOf(OciManifest.EmptyConfig), OciManifest.EmptyConfig.Length);
            _client.UploadBlobAsync(config.Digest, () => new MemoryStream(OciManifest.EmptyConfig), config.Size).GetAwaiter().GetResult();

            var manifest = new OciManifest(2, OciManifest.ManifestMediaType, ArtifactType, config, layers, new Dictionary<string, string>
            {
                [IdentityAnnotation] = identity.Hash,
                [KeyAnnotation] = identity.Key,
                ["org.opencontainers.image.version"] = entry.Metadata.Release,
            }).ToJson();
            var tags = RegistryTags.Of(entry.Metadata);
            _client.PutManifestAsync(tag, manifest).GetAwaiter().GetResult();
            _client.PutManifestAsync(tags.ArchTag, manifest).GetAwaiter().GetResult();
            var listed = new OciDescriptor(OciManifest.ManifestMediaType, OciRegistryClient.DigestOf(manifest), manifest.Length,
                Platform: tags.Arch.OciPlatform, ArtifactType: ArtifactType);
            var index = new MultiArchTag(_client, tags.Index, PlatformOfOlderEntryAsync).AddAsync(listed).GetAwaiter().GetResult();
            _log.Info($"Pushed Linux {entry.Metadata.Release} to {Describe(tag)} (also tagged {tags.ArchTag}, and listed in the index " +
                      $"{tags.Index} with {string.Join(", ", index.Manifests.Select(m => m.Platform?.ToString() ?? m.Digest))}): " +
                      $"{layers.Sum(l => l.Size) / 1048576.0:F1} MiB in {watch.Elapsed.TotalSeconds:F1} s");
            return true;
        }
        catch (Exception e) when (e is RegistryUnavailableException or InvalidArtifactException)
        {
            _log.Warning($"Could not push to the remote cache {Registry} ({e.Message}); the kernel is only in the local cache.");
            return false;
        }
    }

    /// <summary>
    /// The platform of the artifact an older Kiln tagged <c>&lt;key&gt;</c> alone: its empty config says nothing, so it is
    /// the arch its metadata.json records. Null (the entry is kept without a platform) when that cannot be read.
    /// </summary>
    private async Task<OciPlatform?> PlatformOfOlderEntryAsync(OciManifest manifest)
    {
        var metadata = manifest.Layers.FirstOrDefault(l => l.Annotations?.GetValueOrDefault(OciManifest.TitleAnnotation) == BuildMetadata.FileName);
        if (manifest.ArtifactType != ArtifactType || metadata is null) return null;
        try
        {
            var arch = BuildMetadata.Parse(await _client.ReadBlobAsync(metadata, MaxMetadataBytes))?.Arch;
            return arch is null ? null : Arch.Parse(arch).OciPlatform;
        }
        catch (Exception e) when (e is InvalidArtifactException or KilnException)
        {
            return null;
        }
    }

    private bool HasManifestFor(string tag, CacheIdentity identity)
    {
        try
        {
            var found = _client.GetManifestAsync(tag).GetAwaiter().GetResult();
            if (found is null || OciManifest.Parse(found.Body) is not { } manifest) return false;
            CheckManifest(manifest, identity);
            return true;
        }
        catch (InvalidArtifactException)
        {
            return false;
        }
    }

    /// <summary>The artifact's files by name, once the manifest proves it is a Kiln kernel of this identity.</summary>
    private static List<(string Name, OciDescriptor Layer)> CheckManifest(OciManifest manifest, CacheIdentity identity)
    {
        if (manifest.MediaType != OciManifest.ManifestMediaType || manifest.ArtifactType != ArtifactType)
            throw new InvalidArtifactException($"it is not a Kiln kernel (mediaType {manifest.MediaType}, artifactType {manifest.ArtifactType})");
        var hash = manifest.Annotations?.GetValueOrDefault(IdentityAnnotation);
        if (hash != identity.Hash)
            throw new InvalidArtifactException($"it was pushed for identity {hash ?? "(none)"}, not {identity.Hash}");
        if (manifest.Layers.Count is 0 or > MaxFiles)
            throw new InvalidArtifactException($"it has {manifest.Layers.Count} layers");
        var files = new List<(string, OciDescriptor)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var layer in manifest.Layers)
        {
            var name = layer.Annotations?.GetValueOrDefault(OciManifest.TitleAnnotation);
            if (name is null || !KernelCache.IsPlainFileName(name) || !names.Add(name) || layer.Size < 0)
                throw new InvalidArtifactException($"layer {layer.Digest} has a missing, duplicate or unsafe file name '{name}'");
            files.Add((name, layer));
        }
        if (!names.Contains(BuildMetadata.FileName))
            throw new InvalidArtifactException($"it has no {BuildMetadata.FileName}");
        return files;
    }
}
