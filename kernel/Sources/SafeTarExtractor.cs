using System.Formats.Tar;
using System.IO.Compression;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Sources;

/// <summary>
/// Extracts a (compressed) tarball into a directory, refusing any entry that would land outside it:
/// absolute names, "..", and links that point out. The leading directory (linux-6.1.192/) is stripped.
/// Every refusal, and any entry the file system will not take (a file over a directory, a name too long), is an
/// infrastructure error about the archive, so the caller deletes the download instead of failing on it every run.
/// </summary>
public static class SafeTarExtractor
{
    public static int Extract(string archive, string destination, IKilnLog log)
    {
        Directory.CreateDirectory(destination);
        var root = Path.GetFullPath(destination).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        using var decompressor = StartDecompressor(archive, log);
        using var decompressed = decompressor?.Output ?? OpenFile(archive);
        var count = 0;
        var realDirectories = new HashSet<string>(StringComparer.Ordinal);
        var links = new List<(string Entry, string Path)>();
        var completed = false;
        try
        {
            using var reader = new TarReader(decompressed);
            while (reader.GetNextEntry() is { } entry)
            {
                var relative = StripLeadingDirectory(entry.Name);
                if (relative.Length == 0 || entry.EntryType is TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes)
                    continue;
                if (entry.Name.Split('/').Contains(".."))
                    throw Escape(archive, entry.Name, "'..' in the path");
                var target = Inside(root, relative, archive, entry.Name);
                if (relative.Split('/').FirstOrDefault(part => System.Text.Encoding.UTF8.GetByteCount(part) > MaxNameBytes) is { } tooLong)
                    throw Refuse(archive, entry.Name, $"a name of {System.Text.Encoding.UTF8.GetByteCount(tooLong)} bytes; file systems take at most {MaxNameBytes}");
                // Nothing is written through a link on disk (a link is checked when it is made, not for what later entries
                // do through it), and an entry replaces a link at its own path instead of writing to where the link points.
                NoLinkOnTheWay(root, target, archive, entry.Name, realDirectories);
                if (new FileInfo(target).LinkTarget is not null) File.Delete(target);
                if (entry.EntryType is not TarEntryType.Directory && Directory.Exists(target))
                    throw Refuse(archive, entry.Name, "a file where the archive already made a directory");
                if (entry.EntryType is TarEntryType.Directory && File.Exists(target))
                    throw Refuse(archive, entry.Name, "a directory where the archive already made a file");
                try
                {
                    switch (entry.EntryType)
                    {
                        case TarEntryType.Directory:
                            Directory.CreateDirectory(target);
                            break;
                        case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                            using (var output = File.Create(target))
                                entry.DataStream?.CopyTo(output);
                            if (!OperatingSystem.IsWindows())
                                File.SetUnixFileMode(target, (UnixFileMode)((int)entry.Mode & 0x1ff));
                            // Keep the archive's times: the build takes its reproducible timestamp from the tree.
                            File.SetLastWriteTimeUtc(target, entry.ModificationTime.UtcDateTime);
                            break;
                        case TarEntryType.SymbolicLink:
                            // Resolved through the links already on disk: "d/b -> .." makes "a -> d/b/.." leave the tree,
                            // though "d/b/.." reads as "d". Links made before the one they pass through are checked again at the end.
                            if (!ResolvesInside(root, Path.GetDirectoryName(target)!, entry.LinkName))
                                throw Escape(archive, entry.Name, $"symbolic link to {entry.LinkName}");
                            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                            File.CreateSymbolicLink(target, entry.LinkName);
                            links.Add((entry.Name, target));
                            break;
                        case TarEntryType.HardLink:
                            if (entry.LinkName.Split('/').Contains(".."))
                                throw Escape(archive, entry.LinkName, "'..' in a hard link");
                            var source = Inside(root, StripLeadingDirectory(entry.LinkName), archive, entry.LinkName);
                            NoLinkOnTheWay(root, source, archive, entry.LinkName, realDirectories);
                            if (new FileInfo(source).LinkTarget is not null)
                                throw Escape(archive, entry.Name, $"hard link to the symbolic link {entry.LinkName}");
                            if (!File.Exists(source))
                                throw Refuse(archive, entry.Name, Directory.Exists(source)
                                    ? $"hard link to the directory {entry.LinkName}"
                                    : $"hard link to {entry.LinkName}, which the archive has not made (yet)");
                            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                            File.Copy(source, target, overwrite: true);
                            break;
                        default:
                            log.Verbose($"{archive}: skipped {entry.EntryType} entry {entry.Name}");
                            continue;
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException && !DiskFull.Is(e))
                {
                    // The file system refused what the entry asks for: the archive is at fault, not the machine.
                    throw Refuse(archive, entry.Name, $"cannot be written: {e.Message}");
                }
                count++;
            }
            foreach (var (name, link) in links)
                if (new FileInfo(link).LinkTarget is { } linkTarget && !ResolvesInside(root, Path.GetDirectoryName(link)!, linkTarget))
                {
                    // Removed at once: whoever walks the tree before the caller deletes it must not be led outside.
                    File.Delete(link);
                    throw Escape(archive, name, $"symbolic link to {linkTarget}, through links made after it");
                }
            // Read xz's output to the end (tar padding) so it never dies of a closed pipe on a good archive.
            decompressed.CopyTo(Stream.Null);
            completed = true;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            throw new KilnException(ExitCodes.Infrastructure, $"{archive}: corrupt or truncated archive ({e.Message}).", e);
        }
        finally
        {
            // A reader that gave up (escape, corrupt entry) stops xz; its own verdict is the exception in flight.
            var result = decompressor?.Finish(kill: !completed);
            if (completed && result is { ExitCode: not 0 })
                throw new KilnException(ExitCodes.Infrastructure, $"{archive}: corrupt or truncated archive (xz exited {result.ExitCode}: {result.StandardError.Trim()}).");
        }
        return count;
    }

    /// <summary>.tar.xz goes through xz (multi-threaded, and no xz in the BCL); other archives are read by <see cref="OpenFile"/>.</summary>
    private static StreamingCommand? StartDecompressor(string archive, IKilnLog log)
    {
        if (!archive.EndsWith(".xz", StringComparison.Ordinal)) return null;
        try
        {
            // Finish(kill: true) reads the exit code itself, so every exit code is accepted here.
            return new Command("xz", "-dc", "-T0", archive) { Purpose = "Unpack " + Path.GetFileName(archive), AcceptedExitCodes = Enumerable.Range(0, 256).ToArray() }
                .StartStreaming(log);
        }
        catch (KilnException e) when (e.InnerException is System.ComponentModel.Win32Exception inner)
        {
            throw KilnException.BadInput($"Cannot run xz to unpack {archive}: {inner.Message}. Install the Debian package xz-utils.");
        }
    }

    private static Stream OpenFile(string archive)
    {
        Stream file = File.OpenRead(archive);
        return archive.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private static string StripLeadingDirectory(string name)
    {
        var trimmed = name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name;
        var slash = trimmed.IndexOf('/');
        return slash < 0 ? "" : trimmed[(slash + 1)..].TrimEnd('/');
    }

    private static string Inside(string root, string relative, string archive, string entryName)
    {
        if (Path.IsPathRooted(relative) || entryName.StartsWith('/'))
            throw Escape(archive, entryName, "absolute path");
        var full = Path.GetFullPath(Path.Combine(root, relative));
        if (!full.StartsWith(root, StringComparison.Ordinal))
            throw Escape(archive, entryName, "path outside the tree");
        return full;
    }

    /// <summary>Every existing directory between the root and <paramref name="path"/> must be a real directory, not a link.</summary>
    private static void NoLinkOnTheWay(string root, string path, string archive, string entryName, HashSet<string> realDirectories)
    {
        var rootDir = root.TrimEnd(Path.DirectorySeparatorChar);
        for (var dir = Path.GetDirectoryName(path); dir is not null && dir.Length > rootDir.Length && !realDirectories.Contains(dir); dir = Path.GetDirectoryName(dir))
        {
            var info = new DirectoryInfo(dir);
            if (info.LinkTarget is not null)
                throw Escape(archive, entryName, $"path through the symbolic link {Path.GetRelativePath(rootDir, dir)}");
            if (info.Exists) realDirectories.Add(dir);
        }
    }

    /// <summary>NAME_MAX of Linux file systems, in bytes.</summary>
    private const int MaxNameBytes = 255;
    /// <summary>
    /// Whether <paramref name="linkTarget"/>, read from <paramref name="directory"/>, stays under the root when every
    /// symbolic link on the way is followed as it is on disk now.
    /// </summary>
    private static bool ResolvesInside(string root, string directory, string linkTarget) =>
        !linkTarget.StartsWith('/') &&
        SymlinkResolution.StaysInside(root, Path.Combine(Path.GetRelativePath(root, directory), linkTarget));

    private static KilnException Refuse(string archive, string entry, string what) =>
        new(ExitCodes.Infrastructure, $"{archive}: refusing entry '{entry}' ({what}). The archive is not a kernel tarball Kiln trusts.");

    private static KilnException Escape(string archive, string entry, string what) =>
        new(ExitCodes.Infrastructure, $"{archive}: refusing entry '{entry}' ({what}): it would be written outside the source directory. The archive is not a kernel tarball Kiln trusts.");
}
