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
    /// <summary>An end did not do what the range claims (--bad passed or did not build, --good failed): nothing was bisected.</summary>
    EndRejected,
}

/// <summary>Whether reverting the first bad commit on --bad fixes it.</summary>
public enum ConfirmationStatus
{
    /// <summary>--bad with the first bad commit reverted passes.</summary>
    Confirmed,
    /// <summary>The revert fails, does not build, or does not apply.</summary>
    NotConfirmed,
    /// <summary>Nothing to confirm (no first bad commit), or the confirming step could not run.</summary>
    NotRun,
}

/// <summary>The revert check's result; <see cref="Step"/> is the step that tested the revert, when it was built.</summary>
public sealed record Confirmation(ConfirmationStatus Status, string Message, int? Step = null)
{
    /// <summary>The status as the report and bisect.json write it.</summary>
    public string Label => Status switch
    {
        ConfirmationStatus.Confirmed => "confirmed",
        ConfirmationStatus.NotConfirmed => "not confirmed",
        _ => "not run",
    };
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
    /// <summary>How each end is named to the user: --good=REF and --bad=REF, or the patch series' pristine tree and whole series.</summary>
    public string GoodName { get; init; } = "--good";
    public string BadName { get; init; } = "--bad";
    /// <summary>How many times each step boots (--repeat), for the report.</summary>
    public int Boots { get; init; } = 1;
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
    /// <summary>The revert check of <see cref="FirstBad"/> on --bad.</summary>
    public Confirmation Confirmation { get; init; } = new(ConfirmationStatus.NotRun, "no first bad commit to confirm");
    public int Boots { get; init; } = 1;
    /// <summary>How long readying the worktree took (seconds when an earlier bisect's was reused).</summary>
    public double WorktreeSeconds { get; init; }
    public bool WorktreeReused { get; init; }
    /// <summary>The largest per-step overhead (everything but make and QEMU); the target is 5 s.</summary>
    public double MaxOverheadSeconds => Steps.Count == 0 ? 0 : Steps.Max(s => s.OverheadSeconds);

    public int Skipped => Steps.Count(s => s.Verdict == StepVerdict.Skip);
    public int Flaky => Steps.Count(s => s.Flaky);
    public StepRecord? GoodEnd => Steps.FirstOrDefault(s => s.Role == StepRole.GoodEnd);
    public StepRecord? BadEnd => Steps.FirstOrDefault(s => s.Role == StepRole.BadEnd);
    /// <summary>The bound is git bisect's: the ends and the revert check are not bisect steps.</summary>
    public bool WithinBound => BisectBound.Holds(Range.Commits, Steps.Where(s => s.Role == StepRole.Bisect).ToList());
}

/// <summary>
/// Tests both ends, runs <c>git bisect run</c> with Kiln's step command in the repository's bisect worktree, reads the
/// result back from <c>git bisect log</c> and the steps file, and confirms the first bad commit by testing --bad with it
/// reverted. The worktree is kept for the next bisect of the repository.
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
        _log.Info($"Bisecting {range.Commits} commit(s) {range.Good.ShortSha}..{range.Bad.ShortSha} in {range.Repository}: both ends, " +
                  $"at most {BisectBound.MaxDecidingSteps(range.Commits)} builds plus skips, and the revert check" +
                  (job.Boots > 1 ? $"; each step boots {job.Boots} times" : ""));

        using var worktree = BisectWorktree.Open(range.Repository, job.WorktreePath, job.LockPath, range.Bad.Sha, _log);
        var max = BisectBound.MaxDecidingSteps(range.Commits);
        var stepsStart = DateTimeOffset.UtcNow;
        var roles = new Dictionary<int, StepRole>();
        BisectOutcome Outcome(BisectStatus status, CommitInfo? firstBad, bool firstBadTested, IReadOnlyList<CommitInfo> candidates,
            IReadOnlyList<string> log, string? problem) =>
            new(status, range, firstBad, firstBadTested, candidates,
                StepRecord.WithTotalsSince(stepsStart, StepRecord.ReadAll(job.StepsFile)).Select(s => s with { Role = roles.GetValueOrDefault(s.Number, StepRole.Bisect) }).ToList(),
                log, max, watch.Elapsed, problem)
            {
                Boots = job.Boots,
                WorktreeSeconds = Math.Round(worktree.ReadyIn.TotalSeconds, 1),
                WorktreeReused = worktree.Reused,
            };
        StepRecord? Test(StepRole role)
        {
            Step(job, worktree.Path).Run(_log, cancellation);
            var step = StepRecord.ReadAll(job.StepsFile).LastOrDefault();
            if (step is not null) roles[step.Number] = role;
            return step;
        }

        // The ends first (syzbot and KernelCI learned it): a good end that fails or a bad end that passes would name a wrong commit.
        // The worktree starts at the bad end; null when the end does what the range says.
        BisectOutcome? CheckEnd(StepRole role, string side, CommitInfo commit, string name, StepVerdict expected, string otherwise)
        {
            _log.Info($"Testing the {side} end {commit.ShortSha} ({name}): it must {(expected == StepVerdict.Good ? "pass" : "fail")}");
            worktree.Git.Run("checkout", "--quiet", "--detach", "--force", commit.Sha);
            var step = Test(role);
            if (step is null || step.Verdict == StepVerdict.Abort)
                return Outcome(BisectStatus.Aborted, null, false, [], [], step?.Message ?? $"the step on {name} could not run");
            return step.Verdict == expected ? null : Outcome(BisectStatus.EndRejected, null, false, [], [],
                $"the {side} end {name} ({commit.ShortSha} {commit.Subject}) " +
                (step.Verdict == StepVerdict.Skip ? "cannot be tested" : otherwise) + $": {step.Message}");
        }
        if (CheckEnd(StepRole.BadEnd, "bad", range.Bad, job.BadName, StepVerdict.Bad, "passes") is { } badEndRejected) return badEndRejected;
        if (CheckEnd(StepRole.GoodEnd, "good", range.Good, job.GoodName, StepVerdict.Good, "fails") is { } goodEndRejected) return goodEndRejected;

        worktree.Git.Run("bisect", "start", range.Bad.Sha, range.Good.Sha);
        var exit = Step(job, worktree.Path, "bisect", "run").Run(_log, cancellation).ExitCode;
        var log = BisectLog.Parse(worktree.Git.Try("bisect", "log").StandardOutput);
        if (log.FirstBad is { } firstBad)
        {
            var commit = worktree.Git.Commit(firstBad.Sha);
            worktree.Git.Run("bisect", "reset", "HEAD");
            var confirmation = Confirm(job, worktree, commit, Test);
            var tested = StepRecord.ReadAll(job.StepsFile).Any(s => s.Sha == commit.Sha && roles.GetValueOrDefault(s.Number) != StepRole.Revert);
            return Outcome(BisectStatus.Found, commit, tested, [], log.Lines, null) with { Confirmation = confirmation };
        }
        if (log.PossibleFirstBad.Count > 0)
        {
            var candidates = log.PossibleFirstBad.Select(e => worktree.Git.Commit(e.Sha)).ToList();
            return Outcome(BisectStatus.Inconclusive, null, false, candidates, log.Lines, "only commits that do not build are left to test");
        }
        var taken = StepRecord.ReadAll(job.StepsFile);
        var problem = taken.LastOrDefault(s => s.Verdict == StepVerdict.Abort) is { } aborted
            ? $"step {aborted.Number} on {aborted.ShortSha} stopped the bisect: {aborted.Message}"
            : $"git bisect run exited {exit} without naming a commit (see the output above)";
        return Outcome(BisectStatus.Aborted, null, false, [], log.Lines, problem);
    }

    /// <summary>
    /// --bad with <paramref name="firstBad"/> reverted (git revert --no-commit, in the worktree): confirmed when it passes.
    /// The worktree is left at --bad, clean.
    /// </summary>
    private Confirmation Confirm(BisectJob job, BisectWorktree worktree, CommitInfo firstBad, Func<StepRole, StepRecord?> test)
    {
        var git = worktree.Git;
        _log.Info($"Confirming: testing {job.BadName} ({job.Range.Bad.ShortSha}) with {firstBad.ShortSha} reverted; it must pass");
        git.Run("checkout", "--quiet", "--detach", "--force", job.Range.Bad.Sha);
        try
        {
            var revert = git.Try("revert", "--no-commit", firstBad.Sha);
            if (revert.ExitCode != 0)
            {
                var why = (revert.StandardError + revert.StandardOutput).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? $"git revert exited {revert.ExitCode}";
                return new Confirmation(ConfirmationStatus.NotConfirmed, $"revert does not apply: {why}");
            }
            var step = test(StepRole.Revert);
            return step?.Verdict switch
            {
                StepVerdict.Good => new Confirmation(ConfirmationStatus.Confirmed,
                    $"{job.BadName} with {firstBad.ShortSha} reverted passes: {step.Message}", step.Number),
                StepVerdict.Bad => new Confirmation(ConfirmationStatus.NotConfirmed,
                    $"{job.BadName} with {firstBad.ShortSha} reverted still fails: {step.Message}", step.Number),
                StepVerdict.Skip => new Confirmation(ConfirmationStatus.NotConfirmed,
                    $"{job.BadName} with {firstBad.ShortSha} reverted does not build: {step.Message}", step.Number),
                _ => new Confirmation(ConfirmationStatus.NotRun, $"the revert check could not run: {step?.Message ?? "no step record"}", step?.Number),
            };
        }
        finally
        {
            // A conflicted or applied revert: back to --bad as committed.
            git.Try("revert", "--abort");
            git.Run("reset", "--quiet", "--hard", job.Range.Bad.Sha);
        }
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
