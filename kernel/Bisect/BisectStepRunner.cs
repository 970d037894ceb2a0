using System.Diagnostics;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;

namespace Kiln.Kernel.Bisect;

/// <summary>
/// One bisect step on the commit checked out in the plan's worktree: the pipeline's Configure, Compile and BootTest
/// stages, building incrementally in the shared build directory, and the outcome turned into
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
        var commit = new Git(plan.Worktree, _log).Commit("HEAD");
        var number = StepRecord.ReadAll(plan.StepsFile).Count + 1;
        var directory = Path.Combine(plan.StepsDirectory, $"{number:D2}-{commit.ShortSha}");
        Directory.CreateDirectory(directory);
        _log.Info($"Bisect step {number}: {commit.ShortSha} {commit.Subject}");

        var phase = StepPhase.Checkout;
        var times = new Dictionary<StepPhase, TimeSpan>();
        var watch = Stopwatch.StartNew();
        (StepVerdict Verdict, string Message, TimeSpan Qemu) outcome;
        try
        {
            outcome = Test(plan, commit, directory, p => { times[phase] = watch.Elapsed; phase = p; watch.Restart(); }, cancellation);
        }
        catch (KilnException e)
        {
            outcome = (BisectExitCodes.ForFailure(phase, e), $"{phase.ToString().ToLowerInvariant()} failed: {e.Message}", TimeSpan.Zero);
        }
        catch (OperationCanceledException)
        {
            outcome = (StepVerdict.Abort, "interrupted", TimeSpan.Zero);
        }
        times[phase] = watch.Elapsed;

        double Seconds(StepPhase p) => Math.Round(times.GetValueOrDefault(p).TotalSeconds, 1);
        var record = new StepRecord(number, commit.Sha, commit.Subject, outcome.Verdict, BisectExitCodes.For(outcome.Verdict), phase,
            outcome.Message, Seconds(StepPhase.Configure), Seconds(StepPhase.Build), Seconds(StepPhase.Boot),
            Math.Round(total.Elapsed.TotalSeconds, 1), directory)
        {
            MakeSeconds = Seconds(StepPhase.Configure) + Seconds(StepPhase.Build),
            QemuSeconds = Math.Round(outcome.Qemu.TotalSeconds, 1),
            FinishedAt = DateTimeOffset.UtcNow,
        };
        record.AppendTo(plan.StepsFile);
        _log.Info($"Bisect step {number}: {commit.ShortSha} is {outcome.Verdict.ToString().ToLowerInvariant()} " +
                  $"(exit {record.ExitCode}, {record.TotalSeconds:F0} s): {outcome.Message}");
        return record;
    }

    private (StepVerdict, string, TimeSpan Qemu) Test(BisectPlan plan, CommitInfo commit, string directory, Action<StepPhase> enter, CancellationToken cancellation)
    {
        if (!File.Exists(Path.Combine(plan.Worktree, "Makefile")) || !File.Exists(Path.Combine(plan.Worktree, "Kconfig")))
            return (StepVerdict.Skip, "not a kernel tree at this commit (no top-level Makefile and Kconfig)", TimeSpan.Zero);

        // The same stages as BootTest, on the worktree: the runtime, distcc farm, busybox and boot options all apply.
        var host = _pipeline.PrepareHost();
        // The release names the commit (as CONFIG_LOCALVERSION_AUTO would), so the boot proves which commit booted.
        var workspace = new Workspace(plan.Worktree, plan.BuildDir, "-g" + commit.ShortSha, Path.Combine(directory, "build.log"), Reconfigure: true, host);
        enter(StepPhase.Configure);
        var configured = _pipeline.Configure(workspace, cancellation);

        enter(StepPhase.Build);
        var (built, _) = _pipeline.Compile(configured);

        enter(StepPhase.Boot);
        var result = _pipeline.BootTest(new BootRequest(built.Image, built.Release, Path.Combine(directory, "boot"), ExpectedMessages(plan), host.Busybox),
            cancellation);
        var (verdict, message) = Judge(result.Checks, result.Release, _pipeline.Options.Tests.Count > 0);
        return (verdict, message, result.Qemu.Duration);
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
