using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.Bisect;

/// <summary>
/// The detached <c>git worktree</c> of the user's repository where bisects check commits out: one per repository,
/// kept from bisect to bisect, because adding one writes the whole tree (2–3 minutes for a kernel) while moving a kept
/// one to another commit rewrites only the files that differ, so make reuses the objects of the rest. Bisect state
/// (refs/bisect, BISECT_LOG) is per worktree, so the user's checkout, HEAD, index and any bisect of their own are never
/// touched. Opening holds a lock per repository until disposed, so a second bisect of the same repository waits.
/// </summary>
public sealed class BisectWorktree : IDisposable
{
    private readonly CacheLock _lock;
    private readonly IKilnLog _log;
    private bool _disposed;

    private BisectWorktree(string path, bool reused, TimeSpan readyIn, CacheLock held, IKilnLog log)
    {
        Path = path;
        Reused = reused;
        ReadyIn = readyIn;
        _lock = held;
        _log = log;
        Git = new Git(path, log);
    }

    public string Path { get; }
    public Git Git { get; }
    /// <summary>True when an earlier bisect's worktree was reset rather than a new one added.</summary>
    public bool Reused { get; }
    /// <summary>How long readying the worktree took (not counting the wait for another bisect's lock).</summary>
    public TimeSpan ReadyIn { get; }

    /// <summary>
    /// The name of a repository's bisect work directory: the repository's name and a hash of its git common dir, so
    /// every checkout and linked worktree of one repository shares it and two repositories of the same name do not.
    /// </summary>
    public static string WorkName(string repository, IKilnLog log)
    {
        var commonDir = CommonDir(new Git(repository, log));
        var name = System.IO.Path.GetFileName(commonDir);
        if (name == ".git") name = System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(commonDir)!);
        else if (name.EndsWith(".git", StringComparison.Ordinal)) name = name[..^4];
        return $"{name}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(commonDir)))[..12]}";
    }

    /// <summary>
    /// Takes the repository's lock (waiting for another bisect of it) and readies the worktree at
    /// <paramref name="path"/> on <paramref name="commit"/>: reused when git still knows it as this repository's,
    /// reset from whatever a killed bisect left (bisect state, index.lock, a half checkout); added afresh otherwise.
    /// </summary>
    public static BisectWorktree Open(string repository, string path, string lockPath, string commit, IKilnLog log)
    {
        var held = CacheLock.Acquire(lockPath, log);
        try
        {
            var watch = Stopwatch.StartNew();
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
            // git records and reports worktrees by their real path.
            path = RealPath(path);
            var git = new Git(repository, log);
            var reused = KnownWorktree(git, path, log) is { } adminDir && TryReset(path, adminDir, commit, log);
            if (!reused) Add(git, path, commit, log);
            log.Info((reused ? $"Reused the bisect worktree {path}" : $"Added the bisect worktree {path}") +
                     $" at {commit[..12]} in {watch.Elapsed.TotalSeconds:F1} s (your checkout stays as it is)");
            return new BisectWorktree(path, reused, watch.Elapsed, held, log);
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>Ends any bisect in the worktree and releases the repository; the worktree stays for the next bisect.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            // HEAD: stay on the commit checked out; going back to where the bisect started would rewrite files for nothing.
            // Only with its own .git file: without it git would search upwards, and might end the user's own bisect.
            if (File.Exists(System.IO.Path.Combine(Path, ".git"))) Git.Try("bisect", "reset", "HEAD");
            _log.Info($"Kept the bisect worktree {Path} for the next bisect of this repository");
        }
        catch (KilnException e)
        {
            _log.Warning($"Ending the bisect in {Path}: {e.Message}; the next bisect resets it");
        }
        finally
        {
            _lock.Dispose();
        }
    }

    private static string CommonDir(Git git) => git.Run("rev-parse", "--path-format=absolute", "--git-common-dir").TrimEnd('/');

    /// <summary>
    /// The worktree's git directory when <paramref name="path"/> is a worktree git lists for this repository and git, run
    /// inside it, finds that worktree and no other (without its own .git file git would search upwards, and might find
    /// the user's checkout); null, after a warning, when it must be recreated.
    /// </summary>
    private static string? KnownWorktree(Git repository, string path, IKilnLog log)
    {
        if (!Directory.Exists(path)) return null;
        string? Recreate(string why)
        {
            log.Warning($"Recreating the bisect worktree {path}: {why}");
            return null;
        }
        if (!File.Exists(System.IO.Path.Combine(path, ".git"))) return Recreate("it has no .git file");
        if (!repository.Run("worktree", "list", "--porcelain").Split('\n').Contains("worktree " + path))
            return Recreate("the repository does not list it among its worktrees");
        var found = new Git(path, log).Try("rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir", "--git-dir");
        var lines = found.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (found.ExitCode != 0 || lines.Length != 3 || lines[0] != path) return Recreate("git does not find it as a worktree");
        if (lines[1].TrimEnd('/') != CommonDir(repository)) return Recreate("its .git file points to another repository");
        return lines[2];
    }

    /// <summary>
    /// Moves a known worktree to <paramref name="commit"/> touching only the files that differ, after clearing what a
    /// killed run can leave. False (and a warning) when git cannot: the caller recreates the worktree.
    /// </summary>
    private static bool TryReset(string path, string adminDir, string commit, IKilnLog log)
    {
        var git = new Git(path, log);
        try
        {
            // No git process runs here: the repository's lock is held. A lock file is what a killed one left behind.
            foreach (var stale in new[] { "index.lock", "HEAD.lock" }.Select(f => System.IO.Path.Combine(adminDir, f)).Where(File.Exists))
            {
                log.Warning($"Removing {stale}, left by a bisect that was killed");
                File.Delete(stale);
            }
            // git's own test for a bisect in progress; git bisect costs seconds even when it has nothing to do.
            if (File.Exists(System.IO.Path.Combine(adminDir, "BISECT_START"))) git.Run("bisect", "reset", "HEAD");
            // --force makes the index and the files the commit's (what reset --hard would, in one pass over the tree),
            // rewriting only the files that differ; clean removes what is not the commit's.
            git.Run("checkout", "--quiet", "--detach", "--force", commit);
            git.Run("clean", "-ffdxq");
            return true;
        }
        catch (Exception e) when (e is KilnException or IOException or UnauthorizedAccessException)
        {
            log.Warning($"Recreating the bisect worktree {path}: resetting it failed: {e.Message}");
            return false;
        }
    }

    private static void Add(Git repository, string path, string commit, IKilnLog log)
    {
        // Only this path's registration is replaced (add --force --force, even when locked); other worktrees of the
        // user's repository are not pruned.
        if (Directory.Exists(path))
        {
            repository.Try("worktree", "remove", "--force", "--force", path);
            SourceCache.DeleteDirectory(path);
        }
        log.Info($"Checking out {commit[..12]} in a new bisect worktree {path}; later bisects of this repository reuse it");
        repository.Run("worktree", "add", "--force", "--force", "--detach", "--quiet", path, commit);
    }

    private static string RealPath(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (System.IO.Path.GetDirectoryName(full) is not { } parent) return full;
        var here = System.IO.Path.Combine(RealPath(parent), System.IO.Path.GetFileName(full));
        var info = new FileInfo(here);
        return info.Exists || Directory.Exists(here) ? info.ResolveLinkTarget(returnFinalTarget: true) is { } target ? RealPath(target.FullName) : here : here;
    }
}
