using System.Security.Cryptography;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Sources;

/// <summary>
/// The cache of downloads and extracted trees under --cache-dir. Everything enters it through a
/// temporary path that is renamed into place when complete, so an interrupted run leaves nothing
/// a later run trusts.
/// </summary>
public sealed class SourceCache
{
    public SourceCache(string root)
    {
        Root = Path.GetFullPath(root);
        Downloads = Path.Combine(Root, "downloads");
        Trees = Path.Combine(Root, "sources");
    }

    public string Root { get; }
    public string Downloads { get; }
    public string Trees { get; }

    /// <summary>Returns the finished tree named <paramref name="name"/> with the provenance recorded in it, or null when there is none.</summary>
    public SourceTree? FindTree(string name, KernelVersion version)
    {
        var dir = Path.Combine(Trees, name);
        return SourceProvenance.ReadFrom(dir) is { } provenance ? new SourceTree(dir, version, provenance, Reused: true) : null;
    }

    /// <summary>
    /// The tree named <paramref name="name"/>, made by <paramref name="install"/> (download, extraction) unless it exists.
    /// Runs sharing the cache hold the version's source lock for this, so they download and extract once: the one that
    /// waited finds and reuses the other's tree.
    /// </summary>
    public SourceTree Unpack(string name, KernelVersion version, IKilnLog log, Func<SourceTree> install)
    {
        using (CacheLock.Acquire(KilnPaths.SourceLock(Root, version.ToString()), log))
        {
            if (FindTree(name, version) is { } existing)
            {
                log.Info($"Reusing verified source {existing.Directory}");
                return existing;
            }
            return install();
        }
    }

    /// <summary>Extracts an archive into a temporary directory, records provenance, then renames it into place.</summary>
    public string InstallTree(string name, string archive, SourceProvenance provenance, IKilnLog log)
    {
        Directory.CreateDirectory(Trees);
        var final = Path.Combine(Trees, name);
        var staging = AtomicFile.TempPathFor(final);
        RemoveAbandoned(Trees, AtomicFile.TempPrefix(final), log);
        DeleteDirectory(staging);
        try
        {
            log.Info($"Extracting {Path.GetFileName(archive)} into {final}");
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var entries = SafeTarExtractor.Extract(archive, staging, log);
            if (!File.Exists(Path.Combine(staging, "Makefile")) || !File.Exists(Path.Combine(staging, "Kconfig")))
                throw new KilnException(ExitCodes.Infrastructure, $"{archive}: extracted {entries} entries but found no top-level Makefile and Kconfig: not a kernel source tarball.");
            provenance.WriteTo(staging);
            DeleteDirectory(final);
            Directory.Move(staging, final);
            log.Info($"Extracted {entries} entries in {watch.Elapsed.TotalSeconds:F1} s");
            return final;
        }
        finally
        {
            DeleteDirectory(staging);
        }
    }

    /// <summary>
    /// Deletes what killed runs left: entries of <paramref name="directory"/> named <paramref name="prefix"/> followed by
    /// the process id that wrote them, when that process is gone. A live process's temporary files are left alone.
    /// </summary>
    public static void RemoveAbandoned(string directory, string prefix, IKilnLog? log)
    {
        if (!Directory.Exists(directory)) return;
        foreach (var path in Directory.EnumerateFileSystemEntries(directory, prefix + "*"))
        {
            var digits = new string(Path.GetFileName(path)[prefix.Length..].TakeWhile(char.IsAsciiDigit).ToArray());
            if (!int.TryParse(digits, out var pid) || IsRunning(pid)) continue;
            log?.Info($"Removing {path}, left by an interrupted run (process {pid})");
            if (Directory.Exists(path) && new DirectoryInfo(path).LinkTarget is null) Directory.Delete(path, recursive: true);
            else File.Delete(path);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
    }

    public static string FileSha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
