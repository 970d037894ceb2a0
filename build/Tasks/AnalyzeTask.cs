using Cake.Frosting;
using Kiln.Kernel.Analysis;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Analyze))]
[IsDependentOn(typeof(Setup))]
[TaskDescription("Static analysis of the patch series (like mkt ci): checkpatch.pl on each patch, sparse on the C files they touch; fails on errors, shows warnings.")]
public sealed class Analyze : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var series = KernelTarget.Patches(context.Options, context.Target.Version);
        if (series.IsEmpty)
        {
            context.Output.Info($"No patches for {context.Target.Version.SeriesName}.x: nothing to analyze");
            return;
        }
        var result = context.Pipeline.Analyze(context.Require(context.Acquired, nameof(Setup)), context.Patched);
        context.Output.Set(CiKeys.AnalysisReport, result.ReportPath);
        Reports.Analysis(result, context.Target.Paths.SparseLog, context.Output);
        if (result.Errors > 0)
            throw KilnException.KernelFailed($"Static analysis found {result.Errors} error(s) in {series.Directory}: " +
                string.Join(", ", result.Patches.Where(p => p.Errors > 0).Select(p => $"{p.Patch} ({p.Errors})")) + $". Report: {result.ReportPath}");
        context.Output.Info($"Static analysis of {result.Patches.Count} patch(es): no errors, {result.Warnings} warning(s). Report: {result.ReportPath}");
    }
}
