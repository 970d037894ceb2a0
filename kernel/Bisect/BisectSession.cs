using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Bisect;

/// <summary>A finished bisect: its outcome, the JSON report and where each step's logs and boot results are.</summary>
public sealed record BisectSessionResult(BisectOutcome Outcome, string Report, string StepsDirectory);

/// <summary>
/// One bisect as the Bisect target runs it: checks the range (or commits the patch series), keeps one work directory
/// per repository, writes the plan, runs git bisect run with Kiln's own step, and reports.
/// </summary>
public sealed class BisectSession(KernelPipeline pipeline, IKilnLog log)
{
    /// <summary>The conventional exit code of a program stopped by Ctrl-C (128 + SIGINT).</summary>
    public const int Interrupted = 130;

    /// <param name="stepCommand">The command git bisect run starts for a commit, given the plan's path (this host's BisectStep target).</param>
    public BisectSessionResult Run(Func<string, IReadOnlyList<string>> stepCommand)
    {
        var options = pipeline.Options;
        var paths = pipeline.Target.Paths;
        // Checked up front, so a missing cross-compiler or QEMU is exit 2 now rather than an aborted first step.
        pipeline.PrepareHost();
        var (repository, good, bad, expectations) = Range();
        var range = BisectRange.Resolve(repository, good, bad, log);

        // One work directory per repository (every checkout of it shares one): its worktree, kept and reset from bisect to
        // bisect, and a build directory per arch, variant and runtime, so the next bisect builds incrementally.
        var name = BisectWorktree.WorkName(range.Repository, log);

        var stepsDirectory = paths.BisectSteps;
        if (Directory.Exists(stepsDirectory)) Directory.Delete(stepsDirectory, recursive: true);
        Directory.CreateDirectory(stepsDirectory);
        var plan = new BisectPlan
        {
            Worktree = paths.BisectWorktree(name),
            BuildDir = paths.BisectBuildDirectory(name, options.Arch, options.Variant, options.Runtime, options.Toolchain),
            PatchBootExpectations = expectations,
            StepsDirectory = stepsDirectory,
            StepsFile = Path.Combine(stepsDirectory, "steps.jsonl"),
        };
        var planPath = Path.Combine(stepsDirectory, "plan.json");
        plan.Save(planPath);
        var job = new BisectJob(range, plan.Worktree, paths.BisectLock(name), stepCommand(planPath),
            new Dictionary<string, string> { ["KILN_ROOT"] = options.RepoRoot }, plan.StepsFile)
        {
            GoodName = options.BisectPatches ? "the pristine tree" : $"--good={options.BisectGood}",
            BadName = options.BisectPatches ? "the whole series" : $"--bad={options.BisectBad}",
            Boots = options.Boots,
        };

        var outcome = RunInterruptibly(job);
        return new BisectSessionResult(outcome, BisectReport.Write(outcome, paths.OutDir), stepsDirectory);
    }

    /// <summary>
    /// A confirmed first bad commit is success; one the revert check does not confirm, or only unbuildable candidates
    /// left, exit 1; an end that does not fail or pass as claimed exit 2; a stopped bisect exit 3.
    /// </summary>
    public static void Conclude(BisectOutcome outcome, IKilnLog log)
    {
        if (outcome.Flaky > 0)
            log.Warning($"{outcome.Flaky} step(s) were flaky: some of their {outcome.Boots} boots passed and some failed; each counted as bad");
        switch (outcome.Status)
        {
            case BisectStatus.Found:
                var first = outcome.FirstBad!;
                log.Info($"First bad commit: {first.Sha} {first.Subject} ({first.Author}, {first.Date})" +
                         (outcome.FirstBadTested ? "" : " — not built by this bisect: it is the first bad by elimination"));
                var confirmation = outcome.Confirmation;
                if (confirmation.Status == ConfirmationStatus.Confirmed)
                {
                    log.Info($"Confirmed: {confirmation.Message}");
                    break;
                }
                throw confirmation.Status == ConfirmationStatus.NotConfirmed
                    ? KilnException.KernelFailed($"First bad commit {first.ShortSha} not confirmed: {confirmation.Message}")
                    : KilnException.Infrastructure($"First bad commit {first.ShortSha}: {confirmation.Message}");
            case BisectStatus.EndRejected:
                throw KilnException.BadInput($"Nothing was bisected: {outcome.Problem}. Give a range whose good end passes and bad end fails " +
                                             "(raise --repeat if the failure is intermittent).");
            case BisectStatus.Inconclusive:
                throw KilnException.KernelFailed(
                    "Bisect could not name one commit: commits that do not build hide it. The first bad commit is one of:\n  " +
                    string.Join("\n  ", outcome.Candidates.Select(c => $"{c.ShortSha} {c.Subject}")));
            default:
                throw KilnException.Infrastructure($"Bisect stopped: {outcome.Problem}. The repository was left as it was.");
        }
    }

    /// <summary>The repository and range to bisect: --repo/--good/--bad, or the patch series' own history with --patches.</summary>
    private (string Repository, string Good, string Bad, IReadOnlyDictionary<string, IReadOnlyList<string>> BootExpectations) Range()
    {
        var options = pipeline.Options;
        if (options.BisectPatches)
        {
            if (options.BisectRepo is not null || options.BisectGood is not null || options.BisectBad is not null)
                throw KilnException.BadInput("--patches bisects Kiln's patch series for --kernel; it takes no --repo, --good or --bad.");
            var series = KernelTarget.Patches(options, pipeline.Target.Version);
            var repository = PatchSeriesRepository.Create(pipeline.AcquireSource(), series, pipeline.Target.Paths.BisectSeries, log);
            // Good is the pristine tree, bad the whole series: one commit per patch in between.
            var expectations = series.Patches.ToDictionary(p => p.FileName, p => (IReadOnlyList<string>)p.BootExpectations.Select(e => e.Value).ToList());
            return (repository, $"{PatchSeriesRepository.Branch}~{series.Patches.Count}", PatchSeriesRepository.Branch, expectations);
        }
        if (options.BisectRepo is null || options.BisectGood is null || options.BisectBad is null)
            throw KilnException.BadInput("Bisect needs --repo=PATH --good=REF --bad=REF (or --patches to bisect the patch series).");
        return (options.BisectRepo, options.BisectGood, options.BisectBad, new Dictionary<string, IReadOnlyList<string>>());
    }

    /// <summary>
    /// Ctrl-C, SIGTERM and SIGHUP cancel the bisect instead of stopping Kiln, so the bisect in the worktree is still ended and
    /// the repository is left as it was; the steps get the signal from the terminal or are killed with git.
    /// </summary>
    private BisectOutcome RunInterruptibly(BisectJob job)
    {
        using var cancellation = new CancellationTokenSource();
        using var interrupts = ChildProcesses.HandleInterrupts(cancellation.Cancel);
        try
        {
            return new BisectDriver(log).Run(job, cancellation.Token);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw new KilnException(Interrupted, $"Bisect interrupted; {job.Range.Repository} is as it was.");
        }
    }
}
