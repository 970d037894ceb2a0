using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;

namespace Kiln.Kernel.Packaging;

/// <summary>A written stage1 ACI: the tar, its gzip'd copy, and the image ID rkt knows it by.</summary>
public sealed record AciImage(string TarPath, string GzipPath, string IdPath, string ImageId);

/// <summary>
/// Writes a stage1-kvm ACI: <c>manifest</c> plus <c>rootfs/</c> with the kernel under its own name and
/// as <c>rootfs/kernel_image</c> (a relative symlink), then reads it back to prove it is what was meant.
/// </summary>
public static class AciWriter
{
    public const string KernelImageLink = "kernel_image";

    /// <param name="imageName">The kernel's file name in the rootfs: bzImage (x86_64) or Image (arm64).</param>
    public static AciImage Write(string manifestJson, string kernelPath, string imageName, string outDir, string baseName)
    {
        Directory.CreateDirectory(outDir);
        var tar = Path.Combine(outDir, baseName + ".aci");
        DeterministicTar.Write(tar, new[]
        {
            TarItem.Bytes("manifest", Encoding.UTF8.GetBytes(manifestJson)),
            TarItem.Directory("rootfs"),
            TarItem.File("rootfs/" + imageName, kernelPath),
            TarItem.Symlink("rootfs/" + KernelImageLink, imageName),
        });
        var gzip = tar + ".gz";
        DeterministicTar.Gzip(tar, gzip);
        var id = ImageIdOf(tar);
        var idPath = tar + ".id";
        AtomicFile.WriteAllText(idPath, id + "\n");
        Verify(tar, imageName, kernelPath);
        return new AciImage(tar, gzip, idPath, id);
    }

    /// <summary>rkt's image ID: sha512 of the uncompressed tar.</summary>
    public static string ImageIdOf(string tarPath)
    {
        using var stream = File.OpenRead(tarPath);
        return "sha512-" + Convert.ToHexStringLower(SHA512.HashData(stream));
    }

    /// <summary>Reads the ACI back: the entries, a manifest that validates, and the kernel's exact bytes.</summary>
    public static void Verify(string tarPath, string imageName, string kernelPath)
    {
        var entries = new Dictionary<string, (TarEntryType Type, string Link, byte[] Data)>(StringComparer.Ordinal);
        using (var stream = File.OpenRead(tarPath))
        using (var reader = new TarReader(stream))
            while (reader.GetNextEntry(copyData: false) is { } entry)
            {
                using var data = new MemoryStream();
                entry.DataStream?.CopyTo(data);
                entries[entry.Name] = (entry.EntryType, entry.LinkName, data.ToArray());
            }

        void Fail(string problem) => throw KilnException.KernelFailed($"The ACI {tarPath} is not valid: {problem}");
        if (!entries.TryGetValue("manifest", out var manifest) || manifest.Type != TarEntryType.RegularFile) Fail("no manifest file");
        var errors = AciManifest.Validate(Encoding.UTF8.GetString(entries["manifest"].Data));
        if (errors.Count > 0) Fail("manifest: " + string.Join("; ", errors));
        if (!entries.TryGetValue("rootfs/", out var rootfs) || rootfs.Type != TarEntryType.Directory) Fail("no rootfs/ directory");
        if (!entries.TryGetValue("rootfs/" + imageName, out var kernel) || !kernel.Data.AsSpan().SequenceEqual(File.ReadAllBytes(kernelPath)))
            Fail($"rootfs/{imageName} is missing or differs from {kernelPath}");
        if (!entries.TryGetValue("rootfs/" + KernelImageLink, out var link) || link.Type != TarEntryType.SymbolicLink || link.Link != imageName)
            Fail($"rootfs/{KernelImageLink} is not a symlink to {imageName}");
        var stray = entries.Keys.FirstOrDefault(name => name != "manifest" && !name.StartsWith("rootfs/", StringComparison.Ordinal));
        if (stray is not null) Fail($"{stray} is outside manifest and rootfs/");
    }
}
