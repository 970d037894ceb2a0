using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.Packaging;

/// <summary>
/// The two ends of packaging's trust: <see cref="CopyVerified"/> takes the bytes to package out of the cache entry
/// (copy, then hash the copy, so a file changed after Setup's check is never packaged), and <see cref="Verify"/> reads
/// every packaged output back against metadata.json's sha256s. A mismatch is exit 3 naming the file.
/// </summary>
public static class PackageVerifier
{
    /// <summary>
    /// Copies every file metadata.json lists into <paramref name="directory"/>, with the metadata itself; each copy must
    /// hash to the sha256 the metadata records. The entry packaging then reads is this copy, which nobody else writes.
    /// </summary>
    public static CachedKernel CopyVerified(CachedKernel entry, string directory)
    {
        CacheTrust.CreatePrivate(directory);
        foreach (var (name, sha256) in entry.Metadata.Files)
        {
            var copy = Path.Combine(directory, name);
            File.Copy(entry.File(name), copy);
            var actual = SourceCache.FileSha256(copy);
            if (actual != sha256)
                throw KilnException.Infrastructure(
                    $"{entry.File(name)} changed after it was verified (sha256 {actual}, metadata.json records {sha256}): nothing was packaged. " +
                    "Something else is writing the cache entry; run again to rebuild or re-verify it.");
        }
        // metadata.json as it was read and checked at lookup, not as the entry's file may read now.
        entry.Metadata.Write(Path.Combine(directory, BuildMetadata.FileName));
        return new CachedKernel(directory, entry.Metadata);
    }

    /// <summary>
    /// Every packaged copy of a kernel file against metadata.json: the ACI's rootfs (tar and gzip), the Kata layout, the
    /// OCI layer, the release tarball (metadata.json itself against <paramref name="kernel"/>'s), and SHA256SUMS's lines.
    /// </summary>
    public static void Verify(PackageResult result, CachedKernel kernel, string imageName, IKilnLog log)
    {
        var files = kernel.Metadata.Files;
        var metadataSha = SourceCache.FileSha256(kernel.File(BuildMetadata.FileName));

        void Expect(string where, string name, string actual, string expected)
        {
            if (actual != expected)
                throw KilnException.Infrastructure($"Packaged file {where} has sha256 {actual}, but metadata.json records {expected} for {name}: the package is not the verified build. Run PackageStage1 again.");
        }
        void ExpectEntries(string archive, IReadOnlyDictionary<string, string> entries, IEnumerable<(string Entry, string Name, string Sha)> expected)
        {
            foreach (var (entry, name, sha) in expected)
            {
                if (!entries.TryGetValue(entry, out var actual))
                    throw KilnException.Infrastructure($"Packaged file {archive} has no {entry}: the package is incomplete. Run PackageStage1 again.");
                Expect($"{archive} ({entry})", name, actual, sha);
            }
        }

        if (result.Aci is { } aci)
        {
            var aciExpected = new[] { ("rootfs/" + imageName, imageName, files[imageName]) };
            ExpectEntries(aci.TarPath, TarHashes(File.OpenRead(aci.TarPath)), aciExpected);
            ExpectEntries(aci.GzipPath, TarHashes(new GZipStream(File.OpenRead(aci.GzipPath), CompressionMode.Decompress)), aciExpected);
        }

        var kataSources = new[] { imageName, EntryFiles.Vmlinux, EntryFiles.Config };
        foreach (var (file, name) in result.Kata.Files.Zip(kataSources))
            Expect(file, name, SourceCache.FileSha256(file), files[name]);

        // The layout's own digests were checked as it was written (OciLayout.Verify); later changes show in SHA256SUMS below.
        var layer = OciLayout.BlobPath(result.Oci.Directory, result.Oci.LayerDigest);
        ExpectEntries(layer, TarHashes(new GZipStream(File.OpenRead(layer), CompressionMode.Decompress)),
            files.Keys.Where(n => n != EntryFiles.Vmlinux && n != EntryFiles.Config && n != imageName)
                .Select(n => (n, n, files[n])).Append(("kernel", imageName, files[imageName])));

        var top = Path.GetFileName(result.ReleaseTarball).Split(".tar", 2)[0];
        ExpectEntries(result.ReleaseTarball, CompressedTarHashes(result.ReleaseTarball, log),
            files.Select(f => ($"{top}/{f.Key}", f.Key, f.Value)).Append(($"{top}/{BuildMetadata.FileName}", BuildMetadata.FileName, metadataSha)));

        var sumsDir = Path.GetDirectoryName(result.Sums)!;
        foreach (var line in File.ReadLines(result.Sums))
        {
            var (sha, name) = (line[..64], line[66..]);
            var path = Path.GetFullPath(Path.Combine(sumsDir, name));
            if (!File.Exists(path)) throw KilnException.Infrastructure($"{result.Sums} lists {name}, which is missing. Run PackageStage1 again.");
            Expect(path, $"{ReleaseArchive.SumsFileName} ({name})", SourceCache.FileSha256(path), sha);
        }
    }

    /// <summary>sha256 of each regular file in a tar stream, by entry name.</summary>
    private static Dictionary<string, string> TarHashes(Stream stream, bool leaveOpen = false)
    {
        var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
        using (var reader = new TarReader(stream, leaveOpen))
            while (reader.GetNextEntry(copyData: false) is { } entry)
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is { } data)
                    hashes[entry.Name] = Convert.ToHexStringLower(SHA256.HashData(data));
        return hashes;
    }

    private static Dictionary<string, string> CompressedTarHashes(string path, IKilnLog log)
    {
        var program = path.EndsWith(".zst", StringComparison.Ordinal) ? "zstd" : "xz";
        using var decompress = new Command(program, "-d", "-q", "-c", path) { Purpose = $"Read back {Path.GetFileName(path)}" }.StartStreaming(log);
        var output = decompress.Output;
        var hashes = TarHashes(output, leaveOpen: true);
        output.CopyTo(Stream.Null); // the tar's end may be followed by padding the decompressor still has to write
        decompress.Finish();
        return hashes;
    }
}
