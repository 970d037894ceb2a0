using Cake.Frosting;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Build.Tasks;

[TaskName(nameof(ConfigDiff))]
[IsDependentOn(typeof(Setup))]
[TaskDescription("Compare Kiln's .config with --against=FILE (e.g. the one an old pipeline made): the options set in only one of them, grouped by Kconfig menu; also written to <out>/config-diff.txt.")]
public sealed class ConfigDiff : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var against = context.Against ?? throw KilnException.BadInput("ConfigDiff needs --against=FILE: the .config to compare Kiln's with.");
        if (!File.Exists(against)) throw KilnException.BadInput($"--against={against}: no such file.");
        var theirs = KernelConfig.Load(against);
        if (theirs.Values.Count == 0) throw KilnException.BadInput($"--against={against}: not a kernel .config (no CONFIG_ lines).");

        // Like Analyze: a cache hit skips Patch and Configure in a build, but the diff needs the configured tree.
        // A .config whose verification failed is still worth comparing: show the diff, then fail as Configure does.
        if (context.PatchedTree is null) Patch.Apply(context);
        KilnException? verificationFailure = null;
        try
        {
            Configure.Apply(context);
        }
        catch (KilnException e) when (e.ExitCode == ExitCodes.KernelFailed)
        {
            verificationFailure = e;
        }
        var tree = context.Require(context.PatchedTree, nameof(Patch));

        var ours = KernelConfig.Load(Path.Combine(context.BuildDir, ".config"));
        var index = KconfigIndex.Load(tree.Path, KernelArch.Parse(context.Arch));
        var diff = Kiln.Kernel.Config.ConfigDiff.Compare(ours, "Kiln's .config", theirs, against, index);
        var report = Path.Combine(context.OutDir, "config-diff.txt");
        diff.Write(report);
        context.Log.Info($"Config diff, Kiln's {ours.Path} against {against}:{System.Environment.NewLine}{diff.Render().TrimEnd()}");
        context.Log.Info($"Report: {report}");
        if (verificationFailure is not null) throw verificationFailure;
    }
}
