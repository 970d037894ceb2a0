using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Patches;
using Kiln.Kernel.Sources;
using Kiln.Kernel.IO;
namespace Kiln.Kernel.Bisect;

/// <summary>
/// A git history of a patch series, so git bisect can find the patch that breaks the boot: the
/// pristine tree committed once, then one commit per patch, in series order. The repository is bare
/// and written from the read-only source tree (git's --work-tree), so the tree is neither copied nor
/// touched; it is cached by series and source, and built in a temporary directory renamed when complete.
/// </summary>
public static class PatchSeriesRepository
{
    /// <summary>The branch holding the series; the repository is complete when it exists.</summary>
    public const string Branch = "kiln-series";

    /// <summary>The commit trailer naming the patch file a commit applied.</summary>
    public const string PatchTrailer = "Kiln-Patch";

    /// <summary>Returns the repository's path under <paramref name="root"/>, creating it when missing.</summary>
    /// <remarks>The source's tree is extracted only when the repository is made; an existing one is named by the archive's sha256.</remarks>
    public static string Create(VerifiedSource source, PatchSeries series, string root, IKilnLog log)
    {
        if (series.IsEmpty)
            throw KilnException.BadInput($"{series.Directory} holds no patches: there is no series to bisect.");
        var name = $"linux-{source.Version}-{source.Provenance.Sha256[..Math.Min(12, source.Provenance.Sha256.Length)]}-series-{series.Hash[..12]}.git";
        var path = Path.Combine(root, name);
        if (Directory.Exists(path))
        {
            log.Info($"Reusing the patch series history {path}");
            return path;
        }

        var staging = AtomicFile.TempPathFor(path);
        Directory.CreateDirectory(root);
        try
        {
            log.Info($"Committing Linux {source.Version} and {series.Patches.Count} patch(es) of {series.Directory} to {path}");
            new Git(root, log).Run("init", "--quiet", "--bare", staging);
            var git = new Git(staging, log);
            var workTree = source.Tree().Directory;
            string[] Tree(params string[] args) => new[] { "--git-dir", staging, "--work-tree", workTree }.Concat(args).ToArray();

            // -f: Debian's tree ignores its own top level (.gitignore's last stanza); Kiln's provenance file is not the kernel's.
            Commit(git, Tree("add", "--force", "--all", "--", ".", ":!" + SourceProvenance.FileName), log);
            Commit(git, Tree("commit", "--quiet", "--no-verify", "-m", $"Linux {source.Version} ({source.Provenance.Provider})"), log);
            foreach (var patch in series.Patches)
            {
                var applied = git.Try(Tree("apply", "--cached", patch.FullPath));
                if (applied.ExitCode != 0)
                    throw KilnException.KernelFailed($"{patch.FileName} does not apply on Linux {source.Version} and the patches before it:\n{applied.StandardError.Trim()}");
                var message = patch.Title ?? patch.FileName;
                var arguments = new List<string> { "commit", "--quiet", "--no-verify", "-m", $"{message}\n\n{PatchTrailer}: {patch.FileName}" };
                if (patch.From is { } from) arguments.Add("--author=" + from.Value);
                if (patch.Date is { } date) arguments.Add("--date=" + date.Value);
                Commit(git, Tree(arguments.ToArray()), log);
            }
            git.Run("branch", Branch, "HEAD");
            Directory.Move(staging, path);
            return path;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>The patch files applied in the commit checked out in <paramref name="worktree"/>, from their trailers.</summary>
    public static IReadOnlyList<string> AppliedPatches(Git worktree) =>
        worktree.Run("log", $"--format=%(trailers:key={PatchTrailer},valueonly)", "HEAD")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static void Commit(Git git, string[] arguments, IKilnLog log)
    {
        var command = git.Start(arguments);
        foreach (var (k, v) in Git.KilnIdentity) command.Environment[k] = v;
        command.Run(log);
    }
}
