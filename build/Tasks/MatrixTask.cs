using Cake.Frosting;
using Kiln.Kernel.IO;
using Kiln.Kernel.Pipeline;
using Kiln.Kernel.Versions;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Matrix))]
[TaskDescription("Print the CI build matrix (series × arch × variant × toolchain; gcc unless --matrix-toolchains says more) as JSON on a 'matrix=' line and in --out/matrix.json; " +
                 "--kernel, --matrix-arches (or --arch), --variant and --matrix-toolchains (or --toolchain) narrow it; --build-type and --conf-guest go into every job.")]
public sealed class Matrix : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        // Only what the user named narrows the matrix; the context's defaults (x86_64, gcc, the default kernel) do not.
        var options = context.Options;
        var versions = options.IsGiven(nameof(KilnOptions.Kernel))
            ? new[] { context.Target.Version }
            : context.Target.Manifest.Series.Values.Select(p => p.Version);
        var arches = options.MatrixArchFilter.Count > 0 ? options.MatrixArchFilter
            : options.IsGiven(nameof(KilnOptions.Arch)) ? [options.Arch] : Kiln.Kernel.Arch.All;
        var variants = options.IsGiven(nameof(KilnOptions.Variant)) ? new[] { options.Variant } : BuildMatrix.Variants;
        var toolchains = options.MatrixToolchainFilter.Count > 0 ? options.MatrixToolchainFilter
            : options.IsGiven(nameof(KilnOptions.Toolchain)) ? [options.Toolchain] : BuildMatrix.DefaultToolchains;
        var entries = BuildMatrix.Expand(options.RepoRoot, context.Target.ConfigVersion, versions, arches, variants, toolchains,
            options.BuildType, options.ConfGuest);

        // One line, stable for CI scripts; also set as a CI output ($GITHUB_OUTPUT) directly.
        context.Output.Print(CiKeys.Matrix, BuildMatrix.ToJson(entries));
        Directory.CreateDirectory(context.Target.Paths.OutDir);
        var file = context.Target.Paths.Matrix;
        AtomicFile.WriteAllText(file, BuildMatrix.ToJson(entries, indented: true) + "\n");
        context.Output.Info($"{entries.Count} jobs ({string.Join(", ", entries.Select(e => e.Name))}) written to {file}");
    }
}
