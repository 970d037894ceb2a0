using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Tests.Bisect;

/// <summary>Git repositories made by tests, with a fixed identity so commits do not depend on the machine's git config.</summary>
public sealed class GitFixture
{
    public GitFixture(string directory)
    {
        Directory = directory;
        Git = new Git(directory, new RecordingLog());
    }

    public string Directory { get; }
    public Git Git { get; }

    public static GitFixture Init(string directory)
    {
        System.IO.Directory.CreateDirectory(directory);
        var fixture = new GitFixture(directory);
        fixture.Run("init", "--quiet", "--initial-branch=main");
        return fixture;
    }

    public string Run(params string[] arguments)
    {
        var command = Git.Start(arguments);
        foreach (var (k, v) in Git.KilnIdentity) command.Environment[k] = v;
        return command.Run(new RecordingLog()).StandardOutput.Trim();
    }

    /// <summary>Replaces a file (a new inode, so a hard-linked copy would never write through) and commits everything.</summary>
    public string Commit(string subject, params (string Path, string Text)[] files)
    {
        foreach (var (path, text) in files)
        {
            var full = Path.Combine(Directory, path);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            if (File.Exists(full)) File.Delete(full);
            File.WriteAllText(full, text);
        }
        Run("add", "--all", "--force", "--", ".");
        Run("commit", "--quiet", "--no-verify", "-m", subject);
        return Run("rev-parse", "HEAD");
    }

    /// <summary>
    /// Everything about the user's checkout that a bisect must leave alone. Of the worktrees, only the user's own (the
    /// first): Kiln keeps its bisect worktree of the repository, and says so.
    /// </summary>
    public string State() => string.Join("\n",
        "HEAD " + Run("rev-parse", "HEAD"),
        "branch " + Run("symbolic-ref", "--quiet", "HEAD"),
        "status " + Run("status", "--porcelain", "--untracked-files=all"),
        "worktree " + Run("worktree", "list", "--porcelain").Split("\n\n")[0],
        "bisect refs " + Run("for-each-ref", "refs/bisect"),
        "index " + Run("ls-files", "--stage", "--", "Makefile", "README"));
}
