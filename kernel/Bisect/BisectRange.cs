using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Sources;
using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Bisect;

/// <summary>A checked bisect range: both ends resolved to commits, good an ancestor of bad, both kernel trees.</summary>
public sealed record BisectRange(string Repository, CommitInfo Good, CommitInfo Bad, int Commits, KernelVersion? Version)
{
    /// <summary>
    /// Resolves and checks --repo, --good and --bad before anything is built, so a typo costs a second
    /// rather than a build. Every problem is bad input (exit 2) with what to do about it.
    /// </summary>
    public static BisectRange Resolve(string repository, string good, string bad, IKilnLog log)
    {
        var path = Path.GetFullPath(repository);
        if (!Directory.Exists(path))
            throw KilnException.BadInput($"--repo={repository}: no such directory. Give the path of a kernel git repository.");
        var git = new Git(path, log);
        if (git.Try("rev-parse", "--absolute-git-dir").ExitCode != 0)
            throw KilnException.BadInput($"--repo={repository}: not a git repository. Bisect needs the kernel's git history (git clone it, or use --patches to bisect Kiln's patch series).");

        var goodSha = ResolveCommit(git, "good", good);
        var badSha = ResolveCommit(git, "bad", bad);
        if (goodSha == badSha)
            throw KilnException.BadInput($"--good={good} and --bad={bad} are the same commit {goodSha[..12]}: there is nothing to bisect.");
        if (git.Try("merge-base", "--is-ancestor", goodSha, badSha).ExitCode != 0)
            throw KilnException.BadInput(
                $"--good={good} ({goodSha[..12]}) is not an ancestor of --bad={bad} ({badSha[..12]}). " +
                "Bisect looks for the commit between them that broke the kernel: give a good commit older than the bad one (swapped?).");
        foreach (var (name, reference, sha) in new[] { ("good", good, goodSha), ("bad", bad, badSha) })
        {
            var missing = new[] { "Makefile", "Kconfig" }.Where(f => git.Try("cat-file", "-e", $"{sha}:{f}").ExitCode != 0).ToList();
            if (missing.Count > 0)
                throw KilnException.BadInput($"--{name}={reference}: {path} is not a kernel tree at that commit (no top-level {string.Join(" or ", missing)}).");
        }

        var commits = int.Parse(git.Run("rev-list", "--count", $"{goodSha}..{badSha}"));
        var makefile = git.Run("show", $"{badSha}:Makefile").Split('\n');
        return new BisectRange(path, git.Commit(goodSha), git.Commit(badSha), commits, LocalTreeProvider.ParseMakefileVersion(makefile));
    }

    private static string ResolveCommit(Git git, string name, string reference)
    {
        if (string.IsNullOrWhiteSpace(reference))
            throw KilnException.BadInput($"Bisect needs --{name}=REF: a commit, tag or branch of the repository.");
        var result = git.Try("rev-parse", "--verify", "--quiet", "--end-of-options", reference + "^{commit}");
        if (result.ExitCode != 0)
            throw KilnException.BadInput($"--{name}={reference}: no such commit, tag or branch in {git.Directory}.");
        return result.StandardOutput.Trim();
    }
}
