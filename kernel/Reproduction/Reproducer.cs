using System.Diagnostics;
using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.Reproduction;

/// <summary>Where the rebuild happens: a copy of the patched tree and an empty build directory, and what it changes about the machine.</summary>
public sealed record RebuildPlace(string SourceDir, string BuildDir, string BuildLog, RebuildDisguise Disguise);

/// <summary>
/// Reproduce: the cached build against a rebuild from nothing of the same tree, with the same Configure stage,
/// make without ccache, the tree at another path, another user, host name and clock. Every artifact of the cache entry
/// is compared; the report names what differs and where.
/// </summary>
public sealed class Reproducer(IKilnLog log)
{
    /// <param name="cached">The cached build of the options (a cache hit, or the build this run just made).</param>
    /// <param name="patchedTree">The tree the cached build was built from; the rebuild builds a copy of it.</param>
    /// <param name="rebuild">Configure and make in the place given; returns the rebuilt artifacts by cache entry name.</param>
    public ReproduceReport Run(CachedKernel cached, string patchedTree, KilnPaths paths, Func<RebuildPlace, IReadOnlyDictionary<string, string>> rebuild)
    {
        var watch = Stopwatch.StartNew();
        // One Reproduce per cache dir at a time, so what is under the scratch directory now is a killed run's leftover.
        using var _ = CacheLock.Acquire(paths.ReproduceLock, log);
        if (Directory.Exists(paths.ReproduceWork) && Directory.EnumerateFileSystemEntries(paths.ReproduceWork).Any())
        {
            log.Info($"Removing {paths.ReproduceWork}: the rebuild of a Reproduce run that was killed");
            SourceCache.DeleteDirectory(paths.ReproduceWork);
        }
        var id = Guid.NewGuid().ToString("N")[..8];
        var work = Path.Combine(paths.ReproduceWork, id);
        // Another name at another depth than trees/linux-<version>-<hash>: a build that records its tree's path differs.
        var place = new RebuildPlace(Path.Combine(work, "elsewhere", "kernel-src-" + id), Path.Combine(work, "o"),
            Path.Combine(paths.Reproduce, "build.log"), RebuildDisguise.For(CacheTrust.CurrentUser));
        using var cleanUp = ChildProcesses.OnInterrupt("the Reproduce rebuild in " + work, () => SourceCache.DeleteDirectory(paths.ReproduceWork));
        try
        {
            CacheTrust.CreatePrivate(paths.ReproduceWork);
            CacheTrust.CreatePrivate(work);
            Directory.CreateDirectory(paths.Reproduce);
            var observed = place.Disguise.Probe(log);
            log.Info($"Rebuild runs as uid {place.Disguise.Uid}, host {place.Disguise.HostName}, clock {place.Disguise.ClockOffset} (seen inside: {observed}), without ccache");

            // A real copy (cp -a keeps the mtimes; the build's timestamp is the Makefile's): no hard links into the cached trees.
            Directory.CreateDirectory(place.SourceDir);
            new Command("cp", "-a", "--", patchedTree.TrimEnd('/') + "/.", place.SourceDir) { Purpose = "Copy the patched tree for the rebuild" }.Run(log);
            Directory.CreateDirectory(place.BuildDir);
            log.Info($"Rebuilding from nothing: tree copied to {place.SourceDir}, build directory {place.BuildDir}");
            var rebuilt = rebuild(place);

            var comparison = new ArtifactComparison(log);
            var names = cached.Metadata.Files.Keys.Concat(rebuilt.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
            var files = names.Select(n => comparison.Compare(n, cached.Metadata.Files.ContainsKey(n) ? cached.File(n) : null,
                rebuilt.GetValueOrDefault(n), paths.Reproduce)).ToList();
            var reproduction = new ReproduceReport(cached, files, place, observed, watch.Elapsed, paths.Reproduce);
            reproduction.Write();
            return reproduction;
        }
        finally
        {
            SourceCache.DeleteDirectory(work);
        }
    }
}
