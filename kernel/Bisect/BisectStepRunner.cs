using System.Diagnostics;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;

namespace Kiln.Kernel.Bisect;

/// <summary>
/// One bisect step on the tree checked out in the plan's worktree: the pipeline's Configure, Compile and BootTest
/// stages, building incrementally in the shared build directory, booting --repeat times, and the outcome turned into
/// a verdict. The step never throws for the kernel's faults: they are verdicts, recorded in the steps file.
/// </summary>
public sealed class BisectStepRunner
{
    private readonly KernelPipeline _pipeline;
    private readonly IKilnLog _log;

    public BisectStepRunner(KernelPipeline pipeline, IKilnLog log)
    {
        _pipeline = pipeline;
        _log = log;
    }

    public StepRecord Run(BisectPlan plan, CancellationToken cancellation = default)
    {
        var total = Stopwatch.StartNew();
        var git = new Git(plan.Worktree, _log);
        var commit = git.Commit("HEAD");
        // The confirmation step tests a revert on top of HEAD, staged by git revert --no-commit: named -dirty, as the kernel's
        // setlocalversion would. Comparing the index alone spares every step a stat of the whole tree.
        var dirty = git.Try("diff", "--quiet", "--cached", "HEAD").ExitCode != 0;
        var number = StepRecord.ReadAll(plan.StepsFile).Count + 1;
        var directory = Path.Combine(plan.StepsDirectory, $"{number:D2}-{commit.ShortSha}");
        Directory.CreateDirectory(directory);
        _log.Info($"Bisect step {number}: {commit.ShortSha} {commit.Subject}" + (dirty ? " with uncommitted changes" : ""));

        var phase = StepPhase.Checkout;
        var times = new Dictionary<StepPhase, TimeSpan>();
        var watch = Stopwatch.StartNew();
        var boots = new List<(StepVerdict Verdict, string Message)>();
        var qemu = TimeSpan.Zero;
        (StepVerdict Verdict, string Message) outcome;
        try
        {
            if (!File.Exists(Path.Combine(plan.Worktree, "Makefile")) || !File.Exists(Path.Combine(plan.Worktree, "Kconfig")))
                outcome = (StepVerdict.Skip, "not a kernel tree at this commit (no top-level Makefile and Kconfig)");
            else
            {
                var localVersion = "-g" + commit.ShortSha + (dirty ? "-dirty" : "");
                foreach (var boot in Test(plan, localVersion, directory, p => { times[phase] = watch.Elapsed; phase = p; watch.Restart(); }, cancellation))
                {
                    boots.Add((boot.Verdict, boot.Message));
                    qemu += boot.Qemu;
                }
                outcome = Combine(boots);
            }
        }
        catch (KilnException e)
        {
            outcome = (BisectExitCodes.ForFailure(phase, e), $"{phase.ToString().ToLowerInvariant()} failed: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            outcome = (StepVerdict.Abort, "interrupted");
        }
        times[phase] = watch.Elapsed;

        double Seconds(StepPhase p) => Math.Round(times.GetValueOrDefault(p).TotalSeconds, 1);
        var record = new StepRecord(number, commit.Sha, commit.Subject + (dirty ? " (with uncommitted changes)" : ""), outcome.Verdict, BisectExitCodes.For(outcome.Verdict), phase,
            outcome.Message, Seconds(StepPhase.Configure), Seconds(StepPhase.Build), Seconds(StepPhase.Boot),
            Math.Round(total.Elapsed.TotalSeconds, 1), directory)
        {
            MakeSeconds = Seconds(StepPhase.Configure) + Seconds(StepPhase.Build),
            QemuSeconds = Math.Round(qemu.TotalSeconds, 1),
            FinishedAt = DateTimeOffset.UtcNow,
            Boots = boots.Count,
            Passes = boots.Count(b => b.Verdict == StepVerdict.Good),
        };
        record.AppendTo(plan.StepsFile);
        _log.Info($"Bisect step {number}: {commit.ShortSha} is {outcome.Verdict.ToString().ToLowerInvariant()} " +
                  $"(exit {record.ExitCode}, {record.TotalSeconds:F0} s): {outcome.Message}");
        return record;
    }

    /// <summary>Builds the tree once, then boots it --repeat times, yielding each boot's verdict as it ends.</summary>
    private IEnumerable<(StepVerdict Verdict, string Message, TimeSpan Qemu)> Test(BisectPlan plan, string localVersion, string directory,
        Action<StepPhase> enter, CancellationToken cancellation)
    {
        // The same stages as BootTest, on the worktree: the runtime, distcc farm, busybox and boot options all apply.
        var host = _pipeline.PrepareHost();
        // The release names the commit (as CONFIG_LOCALVERSION_AUTO would), so the boot proves which commit booted.
        var workspace = new Workspace(plan.Worktree, plan.BuildDir, localVersion, Path.Combine(directory, "build.log"), Reconfigure: true, host);
        enter(StepPhase.Configure);
        var configured = _pipeline.Configure(workspace, cancellation);

        enter(StepPhase.Build);
        var (built, _) = _pipeline.Compile(configured);

        enter(StepPhase.Boot);
        var count = _pipeline.Options.Boots;
        for (var boot = 1; boot <= count; boot++)
        {
            if (count > 1) _log.Info($"Boot {boot} of {count}");
            var output = Path.Combine(directory, count == 1 ? "boot" : $"boot-{boot}");
            var result = _pipeline.BootTest(new BootRequest(built.Image, built.Release, output, ExpectedMessages(plan), host.Busybox), cancellation);
            var (verdict, message) = Judge(result.Checks, result.Release, _pipeline.Options.Tests.Count > 0);
            yield return (verdict, message, result.Qemu.Duration);
        }
    }

    /// <summary>Good only when every boot passed; bad when any failed, and flaky (with the pass count) when they disagree.</summary>
    public static (StepVerdict Verdict, string Message) Combine(IReadOnlyList<(StepVerdict Verdict, string Message)> boots)
    {
        var passes = boots.Count(b => b.Verdict == StepVerdict.Good);
        if (boots.Count == 1) return boots[0];
        if (passes == boots.Count) return (StepVerdict.Good, $"{boots[0].Message} (all {boots.Count} boots)");
        var failed = boots.Select((b, i) => (b, Boot: i + 1)).Where(x => x.b.Verdict != StepVerdict.Good).ToList();
        var first = failed[0];
        return (StepVerdict.Bad, (passes > 0 ? $"flaky: {passes} of {boots.Count} boots passed; " : $"all {boots.Count} boots failed; ") +
                                 $"boot {first.Boot}: {first.b.Message}");
    }

    private IReadOnlyList<string> ExpectedMessages(BisectPlan plan) =>
        plan.PatchBootExpectations.Count == 0
            ? []
            : PatchSeriesRepository.AppliedPatches(new Git(plan.Worktree, _log))
                .SelectMany(patch => plan.PatchBootExpectations.GetValueOrDefault(patch) ?? []).ToList();

    /// <summary>With user tests, only their checks decide (a kernel that never runs them fails them); otherwise every boot check does.</summary>
    public static (StepVerdict Verdict, string Message) Judge(IReadOnlyList<BootCheck> checks, string? release, bool testsDecide)
    {
        var deciding = testsDecide ? checks.Where(c => c.Name.StartsWith("test:", StringComparison.Ordinal)).ToList() : checks.ToList();
        var failures = deciding.Where(c => c.Failed).ToList();
        var what = testsDecide ? $"{deciding.Count} test script(s)" : $"{deciding.Count} boot checks";
        return failures.Count == 0
            ? (StepVerdict.Good, $"booted Linux {release}; {what} passed")
            : (StepVerdict.Bad, string.Join("; ", failures.Select(f => $"{f.Name}: {f.Message}")));
    }
}
