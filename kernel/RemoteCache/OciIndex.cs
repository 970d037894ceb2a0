using System.Text.Json;

namespace Kiln.Kernel.RemoteCache;

/// <summary>
/// An OCI image index: the manifests one tag stands for, one per platform, which is how a multi-arch image is
/// published (LinuxKit's kernel tags, <c>docker manifest</c>). Clients pick the entry of their platform.
/// </summary>
public sealed record OciIndex(int SchemaVersion, string MediaType, IReadOnlyList<OciDescriptor> Manifests)
{
    public const string IndexMediaType = "application/vnd.oci.image.index.v1+json";
    /// <summary>Docker's older form of an index, which other tools may have left under a tag.</summary>
    public const string DockerManifestListMediaType = "application/vnd.docker.distribution.manifest.list.v2+json";

    public static OciIndex Empty { get; } = new(2, IndexMediaType, []);

    public static bool IsIndexMediaType(string? mediaType) => mediaType is IndexMediaType or DockerManifestListMediaType;

    /// <summary>
    /// This index with <paramref name="entry"/> in place of the entry for the same platform, every other entry kept.
    /// Entries are ordered by platform, so two writers that merge the same entries write the same bytes.
    /// </summary>
    public OciIndex With(OciDescriptor entry)
    {
        if (entry.Platform is null) throw new ArgumentException("an entry added to an index must name its platform", nameof(entry));
        var manifests = Manifests.Where(m => m.Platform != entry.Platform).Append(entry)
            .OrderBy(m => m.Platform?.ToString() ?? "", StringComparer.Ordinal).ToList();
        return new OciIndex(2, IndexMediaType, manifests);
    }

    /// <summary>
    /// Whether this index (read back after a write) still lists <paramref name="entry"/> and every platform
    /// <paramref name="before"/> listed: another writer may have replaced an entry with a newer one of its platform,
    /// but none may have gone missing.
    /// </summary>
    public bool Keeps(OciIndex before, OciDescriptor entry) =>
        Manifests.Any(m => m.Digest == entry.Digest && m.Platform == entry.Platform) &&
        before.Manifests.All(old => old.Platform is { } platform
            ? Manifests.Any(m => m.Platform == platform)
            : Manifests.Any(m => m.Digest == old.Digest));

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, OciManifest.Json);

    /// <summary>Parses an index (OCI or Docker's manifest list); null when the bytes are not one.</summary>
    public static OciIndex? Parse(byte[] json)
    {
        try
        {
            var index = JsonSerializer.Deserialize<OciIndex>(json, OciManifest.Json);
            return index is { SchemaVersion: 2, Manifests: not null } && IsIndexMediaType(index.MediaType) &&
                   index.Manifests.All(m => m is { MediaType: not null, Digest: not null }) ? index : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
