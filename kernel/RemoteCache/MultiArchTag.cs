using System.Diagnostics;
using System.Text.Json;

namespace Kiln.Kernel.RemoteCache;

/// <summary>
/// A tag that stands for one manifest per platform: the OCI image index (<see cref="RegistryTags.Index"/>) that each arch's push
/// adds its manifest to, keeping the other arches'. Registries have no compare-and-swap, so an addition reads the index,
/// merges, writes, and reads it again after a pause longer than a read-merge-write takes: a writer that read the old
/// index at the same time has written by then, and while the index lacks this entry or a platform it listed before,
/// the merge starts over (with a growing, jittered pause, a bounded number of times).
/// </summary>
public sealed class MultiArchTag
{
    private const int MaxAttempts = 8;
    private const long MaxConfigBytes = 1 << 20;
    private static readonly TimeSpan MinimumSettle = TimeSpan.FromMilliseconds(300);
    private static readonly string[] ImageConfigMediaTypes =
        ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];

    private readonly OciRegistryClient _client;
    private readonly Func<OciManifest, Task<OciPlatform?>> _platformOf;

    /// <param name="platformOf">
    /// The platform of a single manifest an older Kiln (or another tool) left under the tag, so it becomes that
    /// platform's entry; by default the image config's <c>os</c>, <c>architecture</c> and <c>variant</c>.
    /// </param>
    public MultiArchTag(OciRegistryClient client, string tag, Func<OciManifest, Task<OciPlatform?>>? platformOf = null)
    {
        _client = client;
        Tag = tag;
        _platformOf = platformOf ?? PlatformFromConfigAsync;
    }

    public string Tag { get; }

    /// <summary>Adds <paramref name="entry"/> (its platform's manifest) to the index; returns the index as read back with it.</summary>
    public async Task<OciIndex> AddAsync(OciDescriptor entry, CancellationToken cancel = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var window = Stopwatch.StartNew();
            var before = await ReadAsync(cancel);
            await _client.PutManifestAsync(Tag, before.With(entry).ToJson(), OciIndex.IndexMediaType, cancel);
            await Task.Delay(Settle(window.Elapsed, attempt), cancel);
            var after = await ReadAsync(cancel);
            if (after.Keeps(before, entry)) return after;
            if (attempt == MaxAttempts)
                throw new RegistryUnavailableException($"the index {Tag} kept losing entries to other writers after {MaxAttempts} merges");
        }
    }

    // Three times this writer's own read-merge-write, as a bound on another's, and a jitter that grows with each retry
    // so two writers that collided do not collide again.
    private static TimeSpan Settle(TimeSpan window, int attempt) =>
        TimeSpan.FromTicks(Math.Max(MinimumSettle.Ticks, 3 * window.Ticks)) +
        TimeSpan.FromMilliseconds(Random.Shared.Next(0, 300 * attempt));

    /// <summary>The index under the tag: empty when there is none, one entry when a single manifest is there.</summary>
    private async Task<OciIndex> ReadAsync(CancellationToken cancel)
    {
        RegistryManifest? found;
        try
        {
            found = await _client.GetManifestAsync(Tag, cancel);
        }
        catch (InvalidArtifactException)
        {
            return OciIndex.Empty;  // what the registry serves is unreadable: the merge replaces it
        }
        if (found is null) return OciIndex.Empty;
        if (OciIndex.IsIndexMediaType(found.MediaType)) return OciIndex.Parse(found.Body) ?? OciIndex.Empty;
        if (OciManifest.Parse(found.Body) is not { } manifest) return OciIndex.Empty;
        var platform = await _platformOf(manifest);
        return new OciIndex(2, OciIndex.IndexMediaType,
            [new OciDescriptor(found.MediaType, found.Digest, found.Body.Length, Platform: platform, ArtifactType: manifest.ArtifactType)]);
    }

    private async Task<OciPlatform?> PlatformFromConfigAsync(OciManifest manifest)
    {
        if (!ImageConfigMediaTypes.Contains(manifest.Config.MediaType)) return null;
        try
        {
            // An image config has the platform's fields at its top level.
            var platform = JsonSerializer.Deserialize<OciPlatform>(await _client.ReadBlobAsync(manifest.Config, MaxConfigBytes), OciManifest.Json);
            return platform is { Architecture: not null, Os: not null } ? platform : null;
        }
        catch (Exception e) when (e is JsonException or InvalidArtifactException)
        {
            return null;
        }
    }
}
