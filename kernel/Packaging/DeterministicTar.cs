using System.Formats.Tar;
using System.IO.Compression;

namespace Kiln.Kernel.Packaging;

/// <summary>One entry of a package tar: a directory, a regular file (from disk or bytes) or a symlink.</summary>
public sealed record TarItem
{
    private TarItem(string path, TarEntryType type) { Path = path; Type = type; }

    public string Path { get; }
    public TarEntryType Type { get; }
    public string? SourceFile { get; private init; }
    public byte[]? Content { get; private init; }
    public string? LinkTarget { get; private init; }
    public UnixFileMode Mode { get; private init; }

    public static TarItem Directory(string path) =>
        new(path.TrimEnd('/') + "/", TarEntryType.Directory) { Mode = Permissions.Directory };

    public static TarItem File(string path, string sourceFile, UnixFileMode mode = Permissions.File) =>
        new(path, TarEntryType.RegularFile) { SourceFile = sourceFile, Mode = mode };

    public static TarItem Bytes(string path, byte[] content, UnixFileMode mode = Permissions.File) =>
        new(path, TarEntryType.RegularFile) { Content = content, Mode = mode };

    public static TarItem Symlink(string path, string target) =>
        new(path, TarEntryType.SymbolicLink) { LinkTarget = target, Mode = Permissions.Symlink };
}

/// <summary>The modes package files get, whatever the build directory's umask was.</summary>
public static class Permissions
{
    public const UnixFileMode File = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    public const UnixFileMode Directory = File | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    public const UnixFileMode Symlink = Directory | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
}

/// <summary>
/// Writes tars whose bytes depend only on their content: entries sorted by path, ustar headers (no
/// atime/ctime, unlike PAX and GNU), mtime fixed at the epoch, owner root:root with no names.
/// </summary>
public static class DeterministicTar
{
    public static readonly DateTimeOffset Mtime = DateTimeOffset.UnixEpoch;

    public static void Write(string path, IEnumerable<TarItem> items)
    {
        using var stream = System.IO.File.Create(path);
        Write(stream, items);
    }

    public static void Write(Stream stream, IEnumerable<TarItem> items)
    {
        var sorted = items.OrderBy(i => i.Path, StringComparer.Ordinal).ToList();
        var duplicate = sorted.Zip(sorted.Skip(1)).FirstOrDefault(p => p.First.Path == p.Second.Path);
        if (duplicate.First is not null) throw new ArgumentException($"The tar would hold {duplicate.First.Path} twice");

        using var writer = new TarWriter(stream, TarEntryFormat.Ustar, leaveOpen: true);
        foreach (var item in sorted)
        {
            var entry = new UstarTarEntry(item.Type, item.Path)
            {
                ModificationTime = Mtime,
                Mode = item.Mode,
                Uid = 0,
                Gid = 0,
                UserName = "",
                GroupName = "",
            };
            if (item.LinkTarget is not null) entry.LinkName = item.LinkTarget;
            using Stream? data = item.SourceFile is not null ? System.IO.File.OpenRead(item.SourceFile)
                : item.Content is not null ? new MemoryStream(item.Content, writable: false)
                : null;
            if (data is not null) entry.DataStream = data;
            writer.WriteEntry(entry);
        }
    }

    /// <summary>gzip with no name and no timestamp in the header, so the bytes follow the input alone.</summary>
    public static void Gzip(string source, string target)
    {
        using var input = System.IO.File.OpenRead(source);
        using var output = System.IO.File.Create(target);
        using var gzip = new GZipStream(output, CompressionLevel.Optimal);
        input.CopyTo(gzip);
    }
}
