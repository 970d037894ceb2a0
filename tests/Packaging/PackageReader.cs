using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Kiln.Kernel.Build;
using Kiln.Kernel.Packaging;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Sources;

namespace Kiln.Tests.Packaging;

/// <summary>One entry as read back from a tar.</summary>
public sealed record ReadEntry(TarEntryType Type, string LinkName, byte[] Data, int Uid, int Gid, DateTimeOffset Mtime, UnixFileMode Mode);

/// <summary>Reads packages back the way their consumers do, independently of the writers.</summary>
public static class PackageReader
{
    public static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    public static Dictionary<string, ReadEntry> ReadTar(Stream stream)
    {
        var entries = new Dictionary<string, ReadEntry>(StringComparer.Ordinal);
        using var reader = new TarReader(stream);
        while (reader.GetNextEntry() is { } entry)
        {
            using var data = new MemoryStream();
            entry.DataStream?.CopyTo(data);
            entries.Add(entry.Name, new ReadEntry(entry.EntryType, entry.LinkName, data.ToArray(), entry.Uid, entry.Gid, entry.ModificationTime, entry.Mode));
        }
        return entries;
    }

    public static Dictionary<string, ReadEntry> ReadTar(string path)
    {
        using var stream = File.OpenRead(path);
        return ReadTar(stream);
    }

    public static Dictionary<string, ReadEntry> ReadGzipTar(string path)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        return ReadTar(gzip);
    }

    /// <summary>Decompresses a .tar.zst / .tar.xz with the real tool, as a user would.</summary>
    public static Dictionary<string, ReadEntry> ReadCompressedTar(string path)
    {
        var program = path.EndsWith(".zst", StringComparison.Ordinal) ? "zstd" : "xz";
        var tar = Path.Combine(Path.GetTempPath(), "kiln-read-" + Guid.NewGuid().ToString("N")[..8] + ".tar");
        try
        {
            new Command("sh", "-c", $"{program} -d -q -c '{path}' > '{tar}'").Run(new RecordingLog());
            return ReadTar(tar);
        }
        finally
        {
            File.Delete(tar);
        }
    }

    public static JsonNode Blob(string ociDir, string digest) => JsonNode.Parse(File.ReadAllBytes(OciLayout.BlobPath(ociDir, digest)))!;

    /// <summary>Every file under a directory by relative path, with its sha256 (symlinks by their target).</summary>
    public static SortedDictionary<string, string> Fingerprint(string directory)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.GetFiles(directory, "*", SearchOption.AllDirectories))
        {
            var info = new FileInfo(file);
            result[Path.GetRelativePath(directory, file)] = info.LinkTarget is { } target ? "-> " + target : Sha256(file);
        }
        return result;
    }
}

/// <summary>A small fake cache entry: bytes that stand in for a kernel, with real metadata.json.</summary>
public sealed class FakeKernel : IDisposable
{
    /// <param name="modules">Adds kernel.tar and kernel-dev.tar, as BuildKernel stores them for a CONFIG_MODULES=y kernel.</param>
    /// <param name="arch">Kiln's arch name: the image is that arch's (bzImage, Image), with bytes of its own.</param>
    /// <param name="toolchain">metadata.json's toolchain.name; null writes none, as Kiln did before toolchains.</param>
    public FakeKernel(string variant = "", string config = "CONFIG_64BIT=y\n# CONFIG_MODULES is not set\n", bool modules = false, string arch = "x86_64",
        string? toolchain = null)
    {
        Root = Directory.CreateTempSubdirectory("kiln-fake-kernel").FullName;
        var dir = Path.Combine(Root, "entry");
        Directory.CreateDirectory(dir);
        ImageName = Kiln.Kernel.Arch.Parse(arch).ImageName;
        var random = new Random(42 + Kiln.Kernel.Arch.All.ToList().IndexOf(Kiln.Kernel.Arch.Parse(arch)));
        byte[] Bytes(int n) { var b = new byte[n]; random.NextBytes(b); return b; }
        File.WriteAllBytes(Path.Combine(dir, ImageName), Bytes(300_000));
        File.WriteAllBytes(Path.Combine(dir, "vmlinux"), Bytes(500_000));
        File.WriteAllText(Path.Combine(dir, "System.map"), "ffffffff81000000 T _text\nffffffff81000000 T startup_64\n");
        File.WriteAllText(Path.Combine(dir, "config"), config);
        var names = new List<string> { ImageName, "vmlinux", "System.map", "config", DevelopmentArtifacts.HeadersTar };
        DeterministicTar.Write(Path.Combine(dir, DevelopmentArtifacts.HeadersTar),
            new[] { TarItem.Bytes("usr/include/linux/version.h", "#define LINUX_VERSION_CODE 393664\n"u8.ToArray()) });
        if (modules)
        {
            DeterministicTar.Write(Path.Combine(dir, DevelopmentArtifacts.ModulesTar),
                new[] { TarItem.Bytes("lib/modules/6.1.192-1/kernel/lib/crc-itu-t.ko", Bytes(2000)) });
            DeterministicTar.Write(Path.Combine(dir, DevelopmentArtifacts.DevTar),
                new[] { TarItem.Bytes("usr/src/linux-headers-6.1.192-1/.config", "CONFIG_MODULES=y\n"u8.ToArray()) });
            names.AddRange(new[] { DevelopmentArtifacts.ModulesTar, DevelopmentArtifacts.DevTar });
        }
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in names)
            files[name] = SourceCache.FileSha256(Path.Combine(dir, name));
        var key = "6.1.192-1" + (variant.Length > 0 ? "-" + variant : "");
        var metadata = new BuildMetadata(key, new string('1', 64), new string('2', 64), "6.1.192", key, arch, variant, "tinyconfig",
            new SourceProvenance("debian:linux-source-6.1", "6.1.192", "/usr/src/linux-source-6.1.tar.xz", new string('3', 64)),
            toolchain is null ? new Dictionary<string, string> { ["compiler"] = "gcc 12" }
                : new Dictionary<string, string> { ["name"] = toolchain, ["compiler"] = toolchain + " 14" }, new Dictionary<string, double> { ["build"] = 1 }, files,
            new[] { "0001-x.patch" }, new[] { "common/base.conf" });
        metadata.Write(Path.Combine(dir, BuildMetadata.FileName));
        Kernel = new CachedKernel(dir, metadata);
    }

    public string Root { get; }
    public CachedKernel Kernel { get; }
    /// <summary>The compressed image's name in the entry: bzImage or Image.</summary>
    public string ImageName { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
