using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Bisect;

/// <summary>A commit as the bisect report shows it.</summary>
public sealed record CommitInfo(string Sha, string Subject, string Author, string Date)
{
    public string ShortSha => Sha[..Math.Min(12, Sha.Length)];
}

/// <summary>git in one directory, through <see cref="Command"/>; Kiln's identity for the commits it makes itself.</summary>
public sealed class Git
{
    private readonly IKilnLog _log;

    public Git(string directory, IKilnLog log)
    {
        Directory = directory;
        _log = log;
    }

    public string Directory { get; }

    /// <summary>Runs git and returns its trimmed stdout; a failure throws with git's stderr.</summary>
    public string Run(params string[] arguments) => Start(arguments).Run(_log).StandardOutput.Trim();

    /// <summary>Runs git and returns the exit code for the caller to judge (e.g. merge-base --is-ancestor).</summary>
    public CommandResult Try(params string[] arguments) =>
        new Command("git", arguments) { WorkingDirectory = Directory, AcceptedExitCodes = Enumerable.Range(0, 256).ToArray() }.Run(_log);

    public Command Start(params string[] arguments) => new("git", arguments) { WorkingDirectory = Directory, Purpose = "git " + arguments[0] };

    public CommitInfo Commit(string revision)
    {
        var fields = Run("show", "-s", "--format=%H%x00%s%x00%an <%ae>%x00%aI", revision + "^{commit}").Split('\0');
        return new CommitInfo(fields[0], fields[1], fields[2], fields[3]);
    }

    /// <summary>Environment that gives the commits Kiln makes a fixed identity, so they do not depend on the user's git config.</summary>
    public static IReadOnlyDictionary<string, string> KilnIdentity { get; } = new Dictionary<string, string>
    {
        ["GIT_AUTHOR_NAME"] = "Kiln",
        ["GIT_AUTHOR_EMAIL"] = "kiln@localhost",
        ["GIT_COMMITTER_NAME"] = "Kiln",
        ["GIT_COMMITTER_EMAIL"] = "kiln@localhost",
    };
}
