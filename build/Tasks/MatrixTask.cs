using Cake.Frosting;
using Kiln.Kernel.Versions;

namespace Kiln.Build.Tasks;

[TaskName(nameof(Matrix))]
[TaskDescription("Print the CI build matrix (series × arch × variant) as JSON on a 'matrix=' line and in --out/matrix.json; --kernel, --arch, --variant narrow it.")]
public sealed class Matrix : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        // Only what the user named narrows the matrix; the context's defaults (x86_64, the default kernel) do not.
        var versions = context.IsGiven(BuildArguments.Kernel)
            ? new[] { context.Version }
            : context.Manifest.Series.Values.Select(p => p.Version);
        var arches = context.IsGiven(BuildArguments.Arch) ? new[] { context.Arch } : BuildMatrix.Arches;
        var variants = context.IsGiven(BuildArguments.Variant) ? new[] { context.Variant } : BuildMatrix.Variants;
        var entries = BuildMatrix.Expand(context.RepoRoot, context.ConfigVersion, versions, arches, variants);

        // One line, stable for CI scripts: grep '^matrix=' >> "$GITHUB_OUTPUT".
        Console.WriteLine("matrix=" + BuildMatrix.ToJson(entries));
        Directory.CreateDirectory(context.OutDir);
        var file = Path.Combine(context.OutDir, "matrix.json");
        File.WriteAllText(file, BuildMatrix.ToJson(entries, indented: true) + "\n");
        context.Log.Info($"{entries.Count} jobs ({string.Join(", ", entries.Select(e => e.Name))}) written to {file}");
    }
}
