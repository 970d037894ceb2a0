using Cake.Frosting;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Reproduction;
using Spectre.Console;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Reproduce))]
[IsDependentOn(typeof(BuildKernel))]
[TaskDescription("Rebuild the kernel from nothing (a copy of the tree elsewhere, an empty build directory, no ccache, another user, host name and clock) " +
                 "and compare every artifact with the cached build; the differences in <out>/reproduce/. Exit 0 reproducible, 1 not.")]
public sealed class Reproduce : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var reproduction = context.Pipeline.Reproduce(context.Require(context.Built, nameof(BuildKernel)));
        var table = new Table().AddColumn("Artifact").AddColumn("Result").AddColumn("Cached").AddColumn("Rebuilt").AddColumn("Where");
        foreach (var file in reproduction.Files)
            table.AddRow(Markup.Escape(file.Name), file.Identical ? "[green]same[/]" : "[red]DIFFERENT[/]", ReproduceReport.Short(file.CachedSha256),
                ReproduceReport.Short(file.RebuiltSha256), Markup.Escape(string.Join("; ", file.Where.Take(3)) + (file.Where.Count > 3 ? $"; … {file.Where.Count - 3} more" : "")));
        context.Output.Write(table);
        context.Output.Info($"Report: {reproduction.TextPath}, {reproduction.JsonPath}; the rebuild's log: {reproduction.Place.BuildLog}");
        if (!reproduction.Reproducible)
            throw KilnException.KernelFailed($"Linux {reproduction.Cached.Metadata.Release} is not reproducible: " +
                string.Join("; ", reproduction.Differing.Select(f => f.Name + (f.Sections.Count > 0 ? $" (sections {string.Join(", ", f.Sections.Take(5))})" : ""))) +
                $" differ from a rebuild from nothing. See {reproduction.TextPath}");
        context.Output.Info($"REPRODUCIBLE: Linux {reproduction.Cached.Metadata.Release}: all {reproduction.Files.Count} artifacts are byte for byte the rebuild's ({reproduction.Duration.TotalMinutes:F0} min)");
    }
}
