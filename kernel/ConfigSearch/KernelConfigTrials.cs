using System.Diagnostics;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Pipeline;

namespace Kiln.Kernel.ConfigSearch;

/// <summary>
/// The real trials: the config written into the search's own build directory and made consistent by the kernel's
/// make olddefconfig (in the pipeline's runtime), then the pipeline's Compile and BootTest stages, incrementally and
/// through ccache, judged as a bisect step is. Each build's log and boot results go to its own directory.
/// </summary>
public sealed class KernelConfigTrials(KernelPipeline pipeline, Workspace workspace, string stepsDirectory, IKilnLog log) : IConfigTrials
{
    private readonly string _configPath = Path.Combine(workspace.BuildDir, ".config");

    public OptionSet Normalize(OptionSet wanted)
    {
        Directory.CreateDirectory(workspace.BuildDir);
        AtomicFile.WriteAllText(_configPath, wanted.Render());
        return OptionSet.From(new KernelConfigurator(log).OldDefConfig(workspace.SourceDir, workspace.BuildDir, pipeline.Options.Arch, pipeline.Options.Toolchain, workspace.Host.Runtime));
    }

    public TrialResult Test(OptionSet config, int step)
    {
        var directory = Path.Combine(stepsDirectory, $"{step:D2}-{config.Hash[..8]}");
        Directory.CreateDirectory(directory);
        var total = Stopwatch.StartNew();
        double build = 0, boot = 0;
        try
        {
            // Another config may be in the build directory since this one was made (a refused group's olddefconfig).
            var configure = Stopwatch.StartNew();
            Normalize(config);
            var stepWorkspace = workspace with { BuildLog = Path.Combine(directory, "build.log") };
            var (built, _) = pipeline.Compile(new Configured(stepWorkspace, KernelTarget.Fragments(pipeline.Options), configure.Elapsed));
            build = Math.Round(total.Elapsed.TotalSeconds, 1);
            var expectations = KernelTarget.Patches(pipeline.Options, pipeline.Target.Version).BootExpectations;
            var result = pipeline.BootTest(new BootRequest(built.Image, built.Release, Path.Combine(directory, "boot"), expectations, workspace.Host.Busybox));
            boot = Math.Round(result.Qemu.Duration.TotalSeconds, 1);
            // The configs under search are the user's, not Kiln's fragments: whether they hold the fragments' requests decides nothing.
            var (verdict, message) = BisectStepRunner.Judge(result.Checks.Where(c => c.Name != BootTester.ConfigOptionsCheck).ToList(), result.Release,
                pipeline.Options.Tests.Count > 0);
            return new TrialResult(verdict, message, build, boot, Math.Round(total.Elapsed.TotalSeconds, 1), directory);
        }
        catch (KilnException e) when (e.ExitCode == ExitCodes.KernelFailed)
        {
            // A config that does not configure or build says nothing about the boot, as a bisect's skip.
            return new TrialResult(StepVerdict.Skip, "does not build: " + e.Message.Split('\n')[0], Math.Round(total.Elapsed.TotalSeconds, 1), 0,
                Math.Round(total.Elapsed.TotalSeconds, 1), directory);
        }
    }
}
