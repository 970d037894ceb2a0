using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Cake.Frosting;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Sources;
using Spectre.Console;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Bisect))]
[TaskDescription("Find the first bad commit between --good and --bad in --repo (or the first bad patch with --patches): git bisect run configures, builds and boot-tests each step in a separate worktree.")]
public sealed class Bisect : FrostingTask<BuildContext>
{
    /// <summary>The conventional exit code of a program stopped by Ctrl-C (128 + SIGINT).</summary>
    private const int Interrupted = 130;

    public override void Run(BuildContext context)
    {
        Prerequisites.Ensure(context.Arch, context.MayInstall, context.Log);
        var (repository, good, bad, expectations) = Target(context);
        var range = BisectRange.Resolve(repository, good, bad, context.Log);

        // One work directory per repository, arch and variant: its build directory and worktree path stay
        // the same from run to run, so a rerun builds incrementally and ccache's relative paths still hit.
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{range.Repository}\n{context.Arch}\n{context.Variant}")))[..12];
        var work = Path.Combine(context.CacheDir, "bisect", $"{Path.GetFileName(range.Repository.TrimEnd('/'))}-{key}");
        using var held = CacheLock.Acquire(Path.Combine(context.CacheDir, "locks", $"bisect-{key}.lock"), context.Log);

        var stepsDirectory = Path.Combine(context.OutDir, "bisect");
        if (Directory.Exists(stepsDirectory)) Directory.Delete(stepsDirectory, recursive: true);
        Directory.CreateDirectory(stepsDirectory);
        var plan = new BisectPlan
        {
            Worktree = Path.Combine(work, "worktree"),
            BuildDir = Path.Combine(work, "build"),
            Arch = context.Arch,
            FragmentsRoot = Path.Combine(context.RepoRoot, "configs", "fragments"),
            Variants = context.Variant.Length > 0 ? [context.Variant] : [],
            BaseConfig = File.Exists(context.BaseConfig) ? Path.GetFullPath(context.BaseConfig) : context.BaseConfig,
            AllowListPath = Path.Combine(context.RepoRoot, "configs", "allow-dropped.conf"),
            CcacheDir = Path.Combine(context.CacheDir, "ccache"),
            Jobs = context.Jobs,
            Tests = context.Tests,
            TimeoutSeconds = context.TimeoutSeconds,
            Append = context.Append.Length > 0 ? context.Append : null,
            PatchBootExpectations = expectations,
            StepsDirectory = stepsDirectory,
            StepsFile = Path.Combine(stepsDirectory, "steps.jsonl"),
        };
        var planPath = Path.Combine(stepsDirectory, "plan.json");
        plan.Save(planPath);
        var job = new BisectJob(range, plan.Worktree, StepCommand(planPath),
            new Dictionary<string, string> { ["KILN_ROOT"] = context.RepoRoot }, plan.StepsFile) { VerifyBad = context.BisectPatches };

        var outcome = RunInterruptibly(job, context.Log);
        Print(outcome);
        var report = BisectReport.Write(outcome, context.OutDir);
        context.Log.Info($"Report: {report}; per-step build logs and boot results in {stepsDirectory}");

        switch (outcome.Status)
        {
            case BisectStatus.Found:
                var first = outcome.FirstBad!;
                context.Log.Info($"First bad commit: {first.Sha} {first.Subject} ({first.Author}, {first.Date})" +
                                 (outcome.FirstBadTested ? "" : " — not built by this bisect: it is the first bad by elimination"));
                break;
            case BisectStatus.BadEndIsGood:
                context.Log.Info($"Nothing to bisect: {outcome.Problem}");
                break;
            case BisectStatus.Inconclusive:
                throw KilnException.KernelFailed(
                    "Bisect could not name one commit: commits that do not build hide it. The first bad commit is one of:\n  " +
                    string.Join("\n  ", outcome.Candidates.Select(c => $"{c.ShortSha} {c.Subject}")));
            default:
                throw KilnException.Infrastructure($"Bisect stopped: {outcome.Problem}. The repository was left as it was.");
        }
    }

    /// <summary>The repository and range to bisect: --repo/--good/--bad, or the patch series' own history with --patches.</summary>
    private static (string Repository, string Good, string Bad, IReadOnlyDictionary<string, IReadOnlyList<string>> BootExpectations) Target(BuildContext context)
    {
        if (context.BisectPatches)
        {
            if (context.BisectRepo is not null || context.BisectGood is not null || context.BisectBad is not null)
                throw KilnException.BadInput("--patches bisects Kiln's patch series for --kernel; it takes no --repo, --good or --bad.");
            var series = context.Patches;
            var source = context.AcquireSource();
            var repository = PatchSeriesRepository.Create(source, series, Path.Combine(context.CacheDir, "bisect", "series"), context.Log);
            // Good is the pristine tree, bad the whole series: one commit per patch in between.
            var expectations = series.Patches.ToDictionary(p => p.FileName, p => (IReadOnlyList<string>)p.BootExpectations.Select(e => e.Value).ToList());
            return (repository, $"{PatchSeriesRepository.Branch}~{series.Patches.Count}", PatchSeriesRepository.Branch, expectations);
        }
        if (context.BisectRepo is null || context.BisectGood is null || context.BisectBad is null)
            throw KilnException.BadInput("Bisect needs --repo=PATH --good=REF --bad=REF (or --patches to bisect the patch series).");
        return (context.BisectRepo, context.BisectGood, context.BisectBad, new Dictionary<string, IReadOnlyList<string>>());
    }

    /// <summary>This host again (dotnet Build.dll, or the app host), running the BisectStep target with the plan.</summary>
    private static IReadOnlyList<string> StepCommand(string planPath)
    {
        var host = Environment.ProcessPath ?? throw KilnException.Infrastructure("Cannot tell which program is running Kiln, so bisect cannot start its steps.");
        var command = new List<string> { host };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") command.Add(Assembly.GetEntryAssembly()!.Location);
        command.Add("--target=" + nameof(BisectStep));
        command.Add($"--{BuildArguments.BisectPlan}={planPath}");
        return command;
    }

    /// <summary>
    /// Ctrl-C and SIGTERM cancel the bisect instead of killing Kiln, so the worktree is still removed and the
    /// repository is left as it was; the steps get the signal from the terminal or are killed with git.
    /// </summary>
    private static BisectOutcome RunInterruptibly(BisectJob job, IKilnLog log)
    {
        using var cancellation = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancellation.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
        {
            signal.Cancel = true;
            cancellation.Cancel();
        });
        try
        {
            return new BisectDriver(log).Run(job, cancellation.Token);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw new KilnException(Interrupted, $"Bisect interrupted; the worktree was removed and {job.Range.Repository} is as it was.");
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static void Print(BisectOutcome outcome)
    {
        var table = new Table()
            .AddColumn(new TableColumn("#").RightAligned()).AddColumn("Commit").AddColumn("Subject").AddColumn("Verdict")
            .AddColumn(new TableColumn("Exit").RightAligned()).AddColumn(new TableColumn("Configure").RightAligned())
            .AddColumn(new TableColumn("Build").RightAligned()).AddColumn(new TableColumn("Boot").RightAligned())
            .AddColumn(new TableColumn("Total").RightAligned());
        foreach (var s in outcome.Steps)
        {
            var verdict = s.Verdict switch
            {
                StepVerdict.Good => "[green]good[/]",
                StepVerdict.Bad => "[red]bad[/]",
                StepVerdict.Skip => "[yellow]skip[/]",
                _ => "[red]abort[/]",
            };
            table.AddRow(s.Number.ToString(), s.ShortSha, Markup.Escape(s.Subject), verdict, s.ExitCode.ToString(),
                $"{s.ConfigureSeconds:F0} s", $"{s.BuildSeconds:F0} s", $"{s.BootSeconds:F0} s", $"{s.TotalSeconds:F0} s");
        }
        AnsiConsole.Write(table);
        // Details below the table: a build error or a failed check does not fit a column.
        foreach (var s in outcome.Steps) AnsiConsole.WriteLine($"  {s.Number}. {s.ShortSha}: {FirstLine(s.Message)}");
        AnsiConsole.WriteLine($"{outcome.Steps.Count} step(s), {outcome.Skipped} skipped, for {outcome.Range.Commits} commit(s) " +
                              $"(bound: {outcome.MaxDecidingSteps} deciding builds plus skips{(outcome.WithinBound ? "" : " — EXCEEDED")}) " +
                              $"in {outcome.Duration:hh\\:mm\\:ss}");
        AnsiConsole.WriteLine("git bisect log:");
        foreach (var line in outcome.Log) AnsiConsole.WriteLine("  " + line);
    }

    private static string FirstLine(string text)
    {
        var line = text.Split('\n')[0];
        return line.Length > 200 ? line[..197] + "..." : line;
    }
}
