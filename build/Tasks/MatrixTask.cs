using Cake.Frosting;
using Kiln.Kernel.IO;
using Kiln.Kernel.Pipeline;
using Kiln.Kernel.Versions;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Matrix))]
[TaskDescription("Print the CI build matrix (series × arch × variant) as JSON on a 'matrix=' line and in --out/matrix.json; --kernel, --arch, --variant narrow it; --build-type and --conf-guest go into every job.")]
public sealed class Matrix : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        // Only what the user named narrows the matrix; the context's defaults (x86_64, the default kernel) do not.
        var versions = context.Options.IsGiven(nameof(KilnOptions.Kernel))
            ? new[] { context.Target.Version }
            : context.Target.Manifest.Series.Values.Select(p => p.Version);
        var arches = context.Options.IsGiven(nameof(KilnOptions.Arch)) ? new[] { context.Options.Arch.Name } : BuildMatrix.Arches;
        var variants = context.Options.IsGiven(nameof(KilnOptions.Variant)) ? new[] { context.Options.Variant } : BuildMatrix.Variants;
        var entries = BuildMatrix.Expand(context.Options.RepoRoot, context.Target.ConfigVersion, versions, arches, variants,
            context.Options.BuildType, context.Options.ConfGuest);

        // One line, stable for CI scripts; also set as a CI output ($GITHUB_OUTPUT) directly.
        context.Output.Print(CiKeys.Matrix, BuildMatrix.ToJson(entries));
        Directory.CreateDirectory(context.Target.Paths.OutDir);
        var file = context.Target.Paths.Matrix;
        AtomicFile.WriteAllText(file, BuildMatrix.ToJson(entries, indented: true) + "\n");
        context.Output.Info($"{entries.Count} jobs ({string.Join(", ", entries.Select(e => e.Name))}) written to {file}");
    }
}
