using Kiln.Kernel.RemoteCache;

namespace Kiln.Kernel.Packaging;

/// <summary>Where a push put the image: its arch's tag and the index (of its key and toolchain) that now lists it.</summary>
public sealed record PushedImage(string ArchReference, string IndexReference, OciIndex Index);

/// <summary>
/// Pushes a packaged OCI image with Kiln's registry client: the layout's blobs, its manifest under the arch's own tag
/// (the layout's, <see cref="RegistryTags.ArchTag"/>), then its entry into the multi-arch index
/// (<see cref="RegistryTags.Index"/>), which keeps the other arches' entries. The manifest's bytes are the layout's, so
/// the pushed digest is the packaged one.
/// </summary>
public static class OciImagePush
{
    public static async Task<PushedImage> PushAsync(OciImage image, string indexTag, RegistryReference registry, OciRegistryClient client,
        CancellationToken cancel = default)
    {
        var manifestBytes = await File.ReadAllBytesAsync(OciLayout.BlobPath(image.Directory, image.ManifestDigest), cancel);
        var manifest = OciManifest.Parse(manifestBytes)
                       ?? throw new InvalidArtifactException($"the layout's manifest {image.ManifestDigest} is not an image manifest");
        foreach (var blob in manifest.Layers.Prepend(manifest.Config))
            await client.UploadBlobAsync(blob.Digest, () => File.OpenRead(OciLayout.BlobPath(image.Directory, blob.Digest)), blob.Size, cancel);
        await client.PutManifestAsync(image.Tag, manifestBytes, cancel: cancel);
        var stored = await client.GetManifestAsync(image.Tag, cancel);
        if (stored?.Digest != image.ManifestDigest)
            throw new InvalidArtifactException($"{registry}:{image.Tag} has digest {stored?.Digest ?? "(none)"} after the push, expected {image.ManifestDigest}");

        var entry = new OciDescriptor(OciLayout.ManifestMediaType, image.ManifestDigest, image.ManifestSize, Platform: image.Platform);
        var index = await new MultiArchTag(client, indexTag).AddAsync(entry, cancel);
        return new PushedImage($"{registry}:{image.Tag}", $"{registry}:{indexTag}", index);
    }
}
