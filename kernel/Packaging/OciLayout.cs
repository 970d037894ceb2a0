using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.RemoteCache;

namespace Kiln.Kernel.Packaging;

/// <summary>What goes into a single-layer OCI image.</summary>
/// <param name="Tag">The arch's own tag (<see cref="RegistryTags.ArchTag"/>), the one a push uses too.</param>
public sealed record OciImageSpec(
    string Directory,
    string Tag,
    OciPlatform Platform,
    IReadOnlyList<TarItem> Content,
    IReadOnlyDictionary<string, string> Annotations);

/// <summary>A written image: the layout directory, the tag in index.json, its platform and its digests.</summary>
public sealed record OciImage(string Directory, string Tag, OciPlatform Platform, string ManifestDigest, long ManifestSize, string ConfigDigest, string LayerDigest, string DiffId);

/// <summary>
/// Writes an OCI image layout (oci-layout, index.json, blobs/sha256/) with one gzip'd layer. Every JSON
/// document is built in a fixed property order and the layer is a deterministic tar, so the same
/// content always gives the same digests.
/// </summary>
public static class OciLayout
{
    public const string IndexMediaType = "application/vnd.oci.image.index.v1+json";
    public const string ManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
    public const string ConfigMediaType = "application/vnd.oci.image.config.v1+json";
    public const string LayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    public static OciImage Write(OciImageSpec spec)
    {
        // A fresh directory: blobs of an earlier run must not linger next to this one's.
        if (Directory.Exists(spec.Directory)) Directory.Delete(spec.Directory, recursive: true);
        var blobs = Path.Combine(spec.Directory, "blobs", "sha256");
        Directory.CreateDirectory(blobs);

        var layerTar = Path.Combine(spec.Directory, "layer.tar.tmp");
        DeterministicTar.Write(layerTar, spec.Content);
        var diffId = "sha256:" + FileSha256(layerTar);
        var layerGz = layerTar + ".gz";
        DeterministicTar.Gzip(layerTar, layerGz);
        File.Delete(layerTar);
        var layer = MoveToBlob(layerGz, blobs);

        var annotations = Sorted(spec.Annotations);
        // The image config carries the platform too: skopeo inspect and a pull without an index read it there.
        var configDocument = PlatformJson(spec.Platform);
        configDocument["config"] = new JsonObject { ["Labels"] = Sorted(spec.Annotations) };
        configDocument["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(diffId) };
        var config = WriteBlob(blobs, configDocument);
        var manifest = WriteBlob(blobs, new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = ManifestMediaType,
            ["config"] = Descriptor(ConfigMediaType, config),
            ["layers"] = new JsonArray(Descriptor(LayerMediaType, layer)),
            ["annotations"] = annotations,
        });
        var indexEntry = Descriptor(ManifestMediaType, manifest);
        indexEntry["annotations"] = new JsonObject { [RefNameAnnotation] = spec.Tag };
        indexEntry["platform"] = PlatformJson(spec.Platform);
        File.WriteAllText(Path.Combine(spec.Directory, "index.json"), new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = IndexMediaType,
            ["manifests"] = new JsonArray(indexEntry),
        }.ToJsonString());
        File.WriteAllText(Path.Combine(spec.Directory, "oci-layout"), new JsonObject { ["imageLayoutVersion"] = "1.0.0" }.ToJsonString());

        var image = new OciImage(spec.Directory, spec.Tag, spec.Platform, manifest.Digest, manifest.Size, config.Digest, layer.Digest, diffId);
        Verify(spec.Directory);
        return image;
    }

    /// <summary>
    /// Reads a layout back and proves it is self-consistent: every descriptor's digest and size match
    /// its blob, media types are the expected ones, and each layer's diff_id is the sha256 of its tar.
    /// </summary>
    public static void Verify(string directory)
    {
        void Fail(string problem) => throw KilnException.KernelFailed($"The OCI layout {directory} is not valid: {problem}");
        var layoutFile = Path.Combine(directory, "oci-layout");
        if (!File.Exists(layoutFile) || JsonNode.Parse(File.ReadAllText(layoutFile))?["imageLayoutVersion"]?.GetValue<string>() != "1.0.0")
            Fail("oci-layout is missing or not version 1.0.0");
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "index.json")))!;
        if (index["schemaVersion"]?.GetValue<int>() != 2) Fail("index.json: schemaVersion is not 2");
        var manifests = index["manifests"]?.AsArray() ?? new JsonArray();
        if (manifests.Count == 0) Fail("index.json lists no manifests");
        foreach (var entry in manifests)
        {
            var manifest = ReadDescribed(directory, entry!, ManifestMediaType, "index.json manifests[]", Fail);
            var config = ReadDescribed(directory, manifest["config"]!, ConfigMediaType, "manifest config", Fail);
            var layers = manifest["layers"]!.AsArray();
            var diffIds = config["rootfs"]?["diff_ids"]?.AsArray() ?? new JsonArray();
            if (diffIds.Count != layers.Count) Fail($"config has {diffIds.Count} diff_ids for {layers.Count} layers");
            for (var i = 0; i < layers.Count; i++)
            {
                var blob = CheckDescriptor(directory, layers[i]!, LayerMediaType, $"layers[{i}]", Fail);
                using var gzip = new GZipStream(File.OpenRead(blob), CompressionMode.Decompress);
                var diffId = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(gzip));
                if (diffId != diffIds[i]!.GetValue<string>()) Fail($"layers[{i}]: diff_id {diffIds[i]} but the tar's sha256 is {diffId}");
            }
        }
    }

    /// <summary>The path of a blob by digest ("sha256:…").</summary>
    public static string BlobPath(string directory, string digest) =>
        Path.Combine(directory, "blobs", digest.Replace(':', Path.DirectorySeparatorChar));

    private static JsonNode ReadDescribed(string directory, JsonNode descriptor, string mediaType, string what, Action<string> fail) =>
        JsonNode.Parse(File.ReadAllBytes(CheckDescriptor(directory, descriptor, mediaType, what, fail)))!;

    private static string CheckDescriptor(string directory, JsonNode descriptor, string mediaType, string what, Action<string> fail)
    {
        var type = descriptor["mediaType"]?.GetValue<string>();
        var digest = descriptor["digest"]?.GetValue<string>() ?? "";
        var size = descriptor["size"]?.GetValue<long>();
        if (type != mediaType) fail($"{what}: media type {type}, expected {mediaType}");
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal)) fail($"{what}: digest {digest} is not sha256");
        var blob = BlobPath(directory, digest);
        if (!File.Exists(blob)) fail($"{what}: blob {digest} is missing");
        if (new FileInfo(blob).Length != size) fail($"{what}: size {size} but the blob has {new FileInfo(blob).Length} bytes");
        if ("sha256:" + FileSha256(blob) != digest) fail($"{what}: blob content does not match {digest}");
        return blob;
    }

    /// <summary>The platform's fields in the OCI spec's order; no variant key for an arch without one.</summary>
    private static JsonObject PlatformJson(OciPlatform platform)
    {
        var json = new JsonObject { ["architecture"] = platform.Architecture, ["os"] = platform.Os };
        if (platform.Variant is { } variant) json["variant"] = variant;
        return json;
    }

    private sealed record Blob(string Digest, long Size);

    private static JsonObject Descriptor(string mediaType, Blob blob) =>
        new() { ["mediaType"] = mediaType, ["digest"] = blob.Digest, ["size"] = blob.Size };

    private static Blob WriteBlob(string blobs, JsonObject document)
    {
        var bytes = Encoding.UTF8.GetBytes(document.ToJsonString());
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        File.WriteAllBytes(Path.Combine(blobs, digest["sha256:".Length..]), bytes);
        return new Blob(digest, bytes.Length);
    }

    private static Blob MoveToBlob(string file, string blobs)
    {
        var hex = FileSha256(file);
        var size = new FileInfo(file).Length;
        File.Move(file, Path.Combine(blobs, hex));
        return new Blob("sha256:" + hex, size);
    }

    private static JsonObject Sorted(IReadOnlyDictionary<string, string> values)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in values.OrderBy(kv => kv.Key, StringComparer.Ordinal)) obj[key] = value;
        return obj;
    }

    private static string FileSha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
