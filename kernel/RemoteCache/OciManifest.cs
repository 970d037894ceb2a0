using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kiln.Kernel.RemoteCache;

/// <summary>
/// An OCI content descriptor: what a manifest says about one blob, or an image index about one manifest (then with the
/// platform it runs on and, for an artifact, its artifactType).
/// </summary>
public sealed record OciDescriptor(
    string MediaType,
    string Digest,
    long Size,
    IReadOnlyDictionary<string, string>? Annotations = null,
    OciPlatform? Platform = null,
    string? ArtifactType = null);

/// <summary>An image index entry's platform, as the OCI image spec names it (<c>linux</c>, <c>arm64</c>, <c>v8</c>).</summary>
public sealed record OciPlatform(string Architecture, string Os, string? Variant = null)
{
    public override string ToString() => $"{Os}/{Architecture}" + (Variant is null ? "" : "/" + Variant);
}

/// <summary>
/// An OCI image manifest used as an artifact (OCI 1.1: artifactType plus the empty config), the form ORAS
/// pushes, so <c>oras pull</c> or <c>skopeo inspect</c> can read what Kiln stores.
/// </summary>
public sealed record OciManifest(
    int SchemaVersion,
    string MediaType,
    string? ArtifactType,
    OciDescriptor Config,
    IReadOnlyList<OciDescriptor> Layers,
    IReadOnlyDictionary<string, string>? Annotations = null)
{
    public const string ManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
    /// <summary>Docker's image manifest, which skopeo or docker may have pushed under a tag before Kiln.</summary>
    public const string DockerManifestMediaType = "application/vnd.docker.distribution.manifest.v2+json";
    public const string EmptyMediaType = "application/vnd.oci.empty.v1+json";
    /// <summary>The title annotation ORAS uses for a layer's file name.</summary>
    public const string TitleAnnotation = "org.opencontainers.image.title";

    /// <summary>The OCI empty descriptor's content: the two bytes <c>{}</c>.</summary>
    public static readonly byte[] EmptyConfig = "{}"u8.ToArray();

    /// <summary>How Kiln writes and reads the registry's JSON documents (manifests, indexes).</summary>
    internal static readonly JsonSerializerOptions Json = new()
    {
        // Media types keep their '+' as written (not \u002B), so skopeo inspect --raw reads as the spec's examples do.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>Parses a manifest; null when the bytes are not one (the caller reports the artifact as invalid).</summary>
    public static OciManifest? Parse(byte[] json)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<OciManifest>(json, Json);
            return manifest is { Config: not null, Layers: not null } ? manifest : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
