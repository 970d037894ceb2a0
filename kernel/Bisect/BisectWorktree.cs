using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Bisect;

/// <summary>
/// A detached <c>git worktree</c> of the user's repository where the bisect checks commits out. Bisect
/// state (refs/bisect, BISECT_LOG) is per worktree, so the user's checkout, HEAD, index and any bisect
/// of their own are never touched. Disposing resets the bisect and removes the worktree, also after a
/// failure or Ctrl-C.
/// </summary>
public sealed class BisectWorktree : IDisposable
{
    private readonly Git _repository;
    private readonly IKilnLog _log;
    private bool _disposed;

    private BisectWorktree(Git repository, string path, IKilnLog log)
    {
        _repository = repository;
        Path = path;
        _log = log;
        Git = new Git(path, log);
    }

    public string Path { get; }
    public Git Git { get; }

    /// <summary>Adds a worktree at <paramref name="path"/> detached at <paramref name="commit"/>, replacing one a killed run left behind.</summary>
    public static BisectWorktree Add(string repository, string path, string commit, IKilnLog log)
    {
        var git = new Git(repository, log);
        RemoveLeftover(git, path, log);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        log.Info($"Checking out {commit[..12]} in a separate worktree {path} (your checkout stays as it is)");
        git.Run("worktree", "add", "--detach", "--quiet", path, commit);
        return new BisectWorktree(git, path, log);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // Each step on its own: a bisect killed mid-checkout can leave git locks that fail one step, not the rest.
        // Only inside the worktree: without its .git file, git would look for a repository further up.
        if (File.Exists(System.IO.Path.Combine(Path, ".git"))) Quietly(() => Git.Try("bisect", "reset", "--quiet"));
        Quietly(() => _repository.Try("worktree", "remove", "--force", Path));
        if (Directory.Exists(Path)) Quietly(() => Directory.Delete(Path, recursive: true));
        Quietly(() => _repository.Try("worktree", "prune"));
        _log.Info($"Removed the bisect worktree {Path}");
    }

    private static void RemoveLeftover(Git git, string path, IKilnLog log)
    {
        if (!Directory.Exists(path)) return;
        log.Warning($"Removing {path}, left behind by an earlier bisect that was killed");
        // Removing the worktree removes its bisect state (refs/bisect live in its own git directory).
        git.Try("worktree", "remove", "--force", path);
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        git.Try("worktree", "prune");
    }

    private void Quietly(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KilnException)
        {
            _log.Warning($"Cleaning up the bisect worktree {Path}: {e.Message}");
        }
    }
}
