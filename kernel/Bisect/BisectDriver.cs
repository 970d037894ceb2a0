using System.Diagnostics;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Bisect;

/// <summary>How a bisect ended.</summary>
public enum BisectStatus
{
    /// <summary>git bisect named the first bad commit.</summary>
    Found,
    /// <summary>Skipped (unbuildable) commits hide the first bad one: it is one of the candidates.</summary>
    Inconclusive,
    /// <summary>A step stopped the bisect (infrastructure failure), or git bisect run failed.</summary>
    Aborted,
    /// <summary>The bad end was tested first (<see cref="BisectJob.VerifyBad"/>) and passed: there is nothing to find.</summary>
    BadEndIsGood,
}

/// <summary>What to bisect and with which step command.</summary>
public sealed record BisectJob(
    BisectRange Range,
    /// <summary>Where the repository's bisect worktree is kept; a stable path keeps ccache's relative paths, and so its hits, across runs.</summary>
    string WorktreePath,
    /// <summary>The repository's lock: one bisect of a repository at a time uses its worktree.</summary>
    string LockPath,
    /// <summary>The program and arguments git bisect run starts for each commit (Kiln's own step).</summary>
    IReadOnlyList<string> StepCommand,
    IReadOnlyDictionary<string, string> StepEnvironment,
    /// <summary>The steps file the step command appends to (see <see cref="BisectPlan.StepsFile"/>).</summary>
    string StepsFile)
{
    /// <summary>
    /// Test the bad end before bisecting. git bisect takes --bad on trust; a patch series has no one to vouch
    /// for it, and without this a one-patch series would name its patch without building anything.
    /// </summary>
    public bool VerifyBad { get; init; }
}

/// <summary>The outcome of a bisect, for the console table and bisect.json.</summary>
public sealed record BisectOutcome(
    BisectStatus Status,
    BisectRange Range,
    CommitInfo? FirstBad,
    /// <summary>False when git concluded without building it (it is --bad, or its parent was the last good).</summary>
    bool FirstBadTested,
    IReadOnlyList<CommitInfo> Candidates,
    IReadOnlyList<StepRecord> Steps,
    IReadOnlyList<string> Log,
    int MaxDecidingSteps,
    TimeSpan Duration,
    string? Problem)
{
    /// <summary>How long readying the worktree took (seconds when an earlier bisect's was reused).</summary>
    public double WorktreeSeconds { get; init; }
    public bool WorktreeReused { get; init; }
    /// <summary>The largest per-step overhead (everything but make and QEMU); the target is 5 s.</summary>
    public double MaxOverheadSeconds => Steps.Count == 0 ? 0 : Steps.Max(s => s.OverheadSeconds);

    public int Skipped => Steps.Count(s => s.Verdict == StepVerdict.Skip);
    public bool WithinBound => BisectBound.Holds(Range.Commits, Steps);
}

/// <summary>
/// Runs <c>git bisect run</c> with Kiln's step command in the repository's bisect worktree and reads the result back
/// from <c>git bisect log</c> and the steps file. The worktree is kept for the next bisect of the repository.
/// </summary>
public sealed class BisectDriver
{
    private readonly IKilnLog _log;

    public BisectDriver(IKilnLog log) => _log = log;

    public BisectOutcome Run(BisectJob job, CancellationToken cancellation = default)
    {
        var watch = Stopwatch.StartNew();
        var range = job.Range;
        if (File.Exists(job.StepsFile)) File.Delete(job.StepsFile);
        Directory.CreateDirectory(Path.GetDirectoryName(job.StepsFile)!);
        _log.Info($"Bisecting {range.Commits} commit(s) {range.Good.ShortSha}..{range.Bad.ShortSha} in {range.Repository}: " +
                  $"at most {BisectBound.MaxDecidingSteps(range.Commits)} builds plus skips");

        using var worktree = BisectWorktree.Open(range.Repository, job.WorktreePath, job.LockPath, range.Bad.Sha, _log);
        var max = BisectBound.MaxDecidingSteps(range.Commits);
        var stepsStart = DateTimeOffset.UtcNow;
        BisectOutcome Outcome(BisectStatus status, CommitInfo? firstBad, bool firstBadTested, IReadOnlyList<CommitInfo> candidates,
            IReadOnlyList<StepRecord> steps, IReadOnlyList<string> log, string? problem) =>
            new(status, range, firstBad, firstBadTested, candidates, StepRecord.WithTotalsSince(stepsStart, steps), log, max, watch.Elapsed, problem)
            {
                WorktreeSeconds = Math.Round(worktree.ReadyIn.TotalSeconds, 1),
                WorktreeReused = worktree.Reused,
            };
        if (job.VerifyBad)
        {
            _log.Info($"Testing the bad end {range.Bad.ShortSha} first");
            var verdict = BisectExitCodes.Read(Step(job, worktree.Path).Run(_log, cancellation).ExitCode);
            var steps = StepRecord.ReadAll(job.StepsFile);
            if (verdict == StepVerdict.Good)
                return Outcome(BisectStatus.BadEndIsGood, null, false, [], steps, [],
                    $"{range.Bad.ShortSha} {range.Bad.Subject} passes: there is no failure to bisect");
            if (verdict == StepVerdict.Abort)
                return Outcome(BisectStatus.Aborted, null, false, [], steps, [],
                    steps.LastOrDefault()?.Message ?? "the step on the bad end could not run");
        }

        worktree.Git.Run("bisect", "start", range.Bad.Sha, range.Good.Sha);
        var run = Step(job, worktree.Path, "bisect", "run");
        var exit = run.Run(_log, cancellation).ExitCode;

        var log = BisectLog.Parse(worktree.Git.Try("bisect", "log").StandardOutput);
        var taken = StepRecord.ReadAll(job.StepsFile);
        if (log.FirstBad is { } firstBad)
        {
            var commit = worktree.Git.Commit(firstBad.Sha);
            return Outcome(BisectStatus.Found, commit, taken.Any(s => s.Sha == commit.Sha), [], taken, log.Lines, null);
        }
        if (log.PossibleFirstBad.Count > 0)
        {
            var candidates = log.PossibleFirstBad.Select(e => worktree.Git.Commit(e.Sha)).ToList();
            return Outcome(BisectStatus.Inconclusive, null, false, candidates, taken, log.Lines,
                "only commits that do not build are left to test");
        }
        var problem = taken.LastOrDefault(s => s.Verdict == StepVerdict.Abort) is { } aborted
            ? $"step {aborted.Number} on {aborted.ShortSha} stopped the bisect: {aborted.Message}"
            : $"git bisect run exited {exit} without naming a commit (see the output above)";
        return Outcome(BisectStatus.Aborted, null, false, [], taken, log.Lines, problem);
    }

    /// <summary>The step command in the worktree, alone or under <c>git bisect run</c>; exit codes are read by the caller.</summary>
    private Command Step(BisectJob job, string worktree, params string[] gitPrefix)
    {
        var arguments = gitPrefix.Length > 0 ? gitPrefix.Concat(job.StepCommand).ToArray() : job.StepCommand.Skip(1).ToArray();
        var command = new Command(gitPrefix.Length > 0 ? "git" : job.StepCommand[0], arguments)
        {
            WorkingDirectory = worktree,
            Purpose = gitPrefix.Length > 0 ? "git bisect run" : "bisect step",
            CaptureOutput = false,
            OnOutput = _log.Info,
            OnError = _log.Info,
            // The verdict comes from the bisect log and the step records, not from git's exit code.
            AcceptedExitCodes = Enumerable.Range(0, 256).ToArray(),
        };
        foreach (var (name, value) in job.StepEnvironment) command.Environment[name] = value;
        return command;
    }
}
