using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.IO;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.Build;

/// <summary>A complete, verified set of kernel artifacts in the local cache.</summary>
public sealed record CachedKernel(string Directory, BuildMetadata Metadata)
{
    public string File(string name) => Path.Combine(Directory, name);
}

/// <summary>
/// Built kernels by identity under &lt;cache&gt;/kernels/&lt;key&gt;-&lt;hash12&gt;/. Entries are staged and renamed
/// into place, and every file's sha256 is checked on lookup, so a torn or tampered entry is never used.
/// </summary>
public sealed class KernelCache
{
    public KernelCache(string cacheRoot) => Root = Path.Combine(cacheRoot, "kernels");

    public string Root { get; }

    public string EntryDirectory(CacheIdentity identity) => Path.Combine(Root, identity.EntryName);

    public CachedKernel? Find(CacheIdentity identity, IKilnLog log)
    {
        var dir = EntryDirectory(identity);
        if (!Directory.Exists(dir)) return null;
        RequireTrusted(dir);
        var problem = Check(dir, identity, out var metadata);
        if (problem is null) return new CachedKernel(dir, metadata!);
        log.Warning($"Ignoring the damaged cache entry {dir}: {problem}. It will be rebuilt.");
        SourceCache.DeleteDirectory(dir);
        return null;
    }

    /// <summary>
    /// A fresh staging directory for an entry filled from elsewhere (the remote cache); it sits under
    /// <see cref="Root"/> so <see cref="TryCommit"/> is a rename on the same file system.
    /// </summary>
    public string NewStagingDirectory(CacheIdentity identity)
    {
        var staging = AtomicFile.TempPathFor(EntryDirectory(identity));
        SourceCache.DeleteDirectory(staging);
        CacheTrust.CreatePrivate(Root);
        CacheTrust.CreatePrivate(staging);
        return staging;
    }

    /// <summary>
    /// Verifies a staged entry exactly as <see cref="Find"/> would (identity and every file's sha256,
    /// nothing unlisted) and renames it into place; returns null and the problem (deleting the staging directory) when it is not sound.
    /// </summary>
    public CachedKernel? TryCommit(CacheIdentity identity, string staging, out string? problem)
    {
        foreach (var file in Directory.EnumerateFiles(staging)) CacheTrust.KeepPrivate(file);
        problem = Check(staging, identity, out var metadata);
        if (problem is null)
        {
            var listed = metadata!.Files.Keys.Append(BuildMetadata.FileName).ToHashSet(StringComparer.Ordinal);
            var extra = Directory.EnumerateFileSystemEntries(staging).Select(Path.GetFileName).FirstOrDefault(n => !listed.Contains(n!));
            if (extra is not null) problem = $"{extra} is not listed in metadata.json";
        }
        if (problem is not null)
        {
            SourceCache.DeleteDirectory(staging);
            return null;
        }
        var final = EntryDirectory(identity);
        SourceCache.DeleteDirectory(final);
        Directory.Move(staging, final);
        return new CachedKernel(final, metadata!);
    }

    private static string? Check(string dir, CacheIdentity identity, out BuildMetadata? metadata)
    {
        metadata = BuildMetadata.Read(Path.Combine(dir, BuildMetadata.FileName));
        return metadata is null ? "metadata.json is missing or unreadable"
            : metadata.IdentityHash != identity.Hash ? $"it was built for other inputs (identity {metadata.IdentityHash[..Math.Min(12, metadata.IdentityHash.Length)]}, expected {identity.ShortHash})"
            : metadata.Files.Keys.Any(n => !IsPlainFileName(n)) ? "metadata.json lists a file outside the entry"
            : metadata.Files.Select(f => Verify(dir, f.Key, f.Value)).FirstOrDefault(p => p is not null);
    }

    /// <summary>Entry file names are single path components: a name from metadata.json or a registry never leaves the entry.</summary>
    public static bool IsPlainFileName(string name) =>
        name.Length > 0 && name != "." && name != ".." && name.IndexOfAny(new[] { '/', '\\', '\0' }) < 0;

    /// <summary>Copies the artifacts into a staging directory, then renames it into place.</summary>
    public CachedKernel Store(CacheIdentity identity, IReadOnlyDictionary<string, string> files, Func<IReadOnlyDictionary<string, string>, BuildMetadata> metadataFor,
        IKilnLog? log = null)
    {
        CacheTrust.CreatePrivate(Root);
        var final = EntryDirectory(identity);
        var staging = AtomicFile.TempPathFor(final);
        SourceCache.RemoveAbandoned(Root, AtomicFile.TempPrefix(final), log);
        SourceCache.DeleteDirectory(staging);
        try
        {
            CacheTrust.CreatePrivate(staging);
            var hashes = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, source) in files)
            {
                var target = Path.Combine(staging, name);
                File.Copy(source, target);
                CacheTrust.KeepPrivate(target);
                hashes[name] = SourceCache.FileSha256(target);
            }
            var metadata = metadataFor(hashes);
            metadata.Write(Path.Combine(staging, BuildMetadata.FileName));
            CacheTrust.KeepPrivate(Path.Combine(staging, BuildMetadata.FileName));
            SourceCache.DeleteDirectory(final);
            Directory.Move(staging, final);
            return new CachedKernel(final, metadata);
        }
        finally
        {
            SourceCache.DeleteDirectory(staging);
        }
    }

    /// <summary>
    /// An entry is trusted only when nobody else could have written it (<see cref="CacheTrust"/>): the kernels directory,
    /// the entry and each of its files. Its sha256s prove only that the files match metadata.json, which a writer could replace too.
    /// </summary>
    private void RequireTrusted(string dir)
    {
        CacheTrust.Require(Root, "The kernel cache");
        CacheTrust.Require(dir, "The kernel cache entry");
        foreach (var file in Directory.EnumerateFileSystemEntries(dir)) CacheTrust.Require(file, "The kernel cache file");
    }

    private static string? Verify(string dir, string name, string sha256)
    {
        var path = Path.Combine(dir, name);
        if (!File.Exists(path)) return $"{name} is missing";
        return SourceCache.FileSha256(path) == sha256 ? null : $"{name} does not match its recorded sha256";
    }

    /// <summary>
    /// Removes the kernel an earlier run exported to <paramref name="outDir"/>, at the start of a run, so a run that fails
    /// leaves no bzImage and metadata.json that read as its own. metadata.json goes first: a kill midway leaves
    /// artifacts without metadata, never metadata describing files that are gone. Only the names Export writes are touched.
    /// </summary>
    public static void ClearExported(string outDir, Arch arch)
    {
        if (!Directory.Exists(outDir)) return;
        var metadataPath = Path.Combine(outDir, BuildMetadata.FileName);
        var listed = BuildMetadata.Read(metadataPath)?.Files.Keys.Where(IsPlainFileName) ?? Enumerable.Empty<string>();
        File.Delete(metadataPath);
        var known = new[] { EntryFiles.Image(arch), EntryFiles.Vmlinux, EntryFiles.SystemMap, EntryFiles.Config,
            DevelopmentArtifacts.HeadersTar, DevelopmentArtifacts.ModulesTar, DevelopmentArtifacts.DevTar };
        foreach (var name in listed.Concat(known).Distinct(StringComparer.Ordinal))
            File.Delete(Path.Combine(outDir, name));
    }

    /// <summary>Copies a cache entry's files to the output directory (replacing what a previous run left).</summary>
    public static void Export(CachedKernel entry, string outDir)
    {
        Directory.CreateDirectory(outDir);
        foreach (var name in entry.Metadata.Files.Keys.Append(BuildMetadata.FileName))
        {
            // A copy cut short (full disk) does not stay behind next to the artifacts.
            try
            {
                AtomicFile.Copy(entry.File(name), Path.Combine(outDir, name));
            }
            catch (IOException e) when (DiskFull.Is(e))
            {
                throw DiskFull.Explain(e, Path.Combine(outDir, name));
            }
        }
    }
}
