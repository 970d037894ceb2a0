using Cake.Frosting;

namespace Kiln.Build.Tasks;

[TaskName(nameof(ConfigDiff))]
[IsDependentOn(typeof(Setup))]
[TaskDescription("Compare Kiln's .config with --against=FILE (e.g. the one an old pipeline made): the options set in only one of them, grouped by Kconfig menu; also written to <out>/config-diff.txt.")]
public sealed class ConfigDiff : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var compared = context.Pipeline.CompareConfig(context.Require(context.Acquired, nameof(Setup)), context.Patched);
        context.Output.Line($"Config diff, Kiln's {compared.OursPath} against {compared.AgainstPath}:");
        context.Output.Line(compared.Diff.Render().TrimEnd());
        context.Output.Info($"Report: {compared.ReportPath}");
        if (compared.VerificationFailure is { } failure) throw failure;
    }
}
