using System.Text.Json;
using System.Text.Json.Serialization;
using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Patches;
using Kiln.Kernel.IO;
namespace Kiln.Kernel.Analysis;

/// <summary>
/// The analysis of a series: findings per patch, sparse findings on lines no patch added, the files sparse
/// checked and those whose objects make could not build (with why), and the report file.
/// </summary>
public sealed record AnalysisResult(IReadOnlyList<PatchFindings> Patches, IReadOnlyList<Finding> PreExisting,
    IReadOnlyList<string> SparseChecked, IReadOnlyDictionary<string, string> SparseNotBuilt, string ReportPath)
{
    public int Errors => Patches.Sum(p => p.Errors);
    public int Warnings => Patches.Sum(p => p.Warnings);
}

/// <summary>
/// Static analysis of a patch series as mkt's CI does it: checkpatch on every patch, sparse on the C files the
/// series touches. A sparse finding counts against a patch when it is on a line that patch adds (new-side line
/// numbers of its hunks; a later patch that moves those lines can shift this); the rest were there before.
/// </summary>
public static class SeriesAnalyzer
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>
    /// Each patch's checkpatch findings plus the sparse findings on lines it adds; the sparse findings no patch
    /// added are returned apart (they were in the file before the series).
    /// </summary>
    public static (List<PatchFindings> Patches, List<Finding> PreExisting) Attribute(
        IReadOnlyList<(string Patch, IReadOnlyDictionary<string, IReadOnlySet<int>> Added, IReadOnlyList<Finding> Checkpatch)> patches,
        IReadOnlyList<Finding> sparse)
    {
        var attributed = new HashSet<Finding>();
        var result = new List<PatchFindings>();
        foreach (var (patch, added, checkpatch) in patches)
        {
            var mine = sparse.Where(f => added.TryGetValue(f.File, out var lines) && lines.Contains(f.Line)).ToList();
            attributed.UnionWith(mine);
            result.Add(new PatchFindings(patch, checkpatch.Concat(mine).ToList()));
        }
        return (result, sparse.Where(f => !attributed.Contains(f)).ToList());
    }

    /// <param name="pristineTree">A source tree of the kernel being patched: its checkpatch.pl is used.</param>
    /// <param name="build">The patched tree and its configured build directory, for sparse.</param>
    public static AnalysisResult Analyze(PatchSeries series, string pristineTree, BuildRequest build, string outputDir, IKilnLog log)
    {
        var additions = series.Patches.ToDictionary(p => p.FileName, p => PatchAdditions.Read(p.FullPath), StringComparer.Ordinal);
        var touched = additions.Values.SelectMany(a => a.Keys).Where(f => f.EndsWith(".c", StringComparison.Ordinal))
            .Distinct().Order(StringComparer.Ordinal).ToList();
        // A touched file the patched tree no longer has (deleted by the series) has nothing to check.
        var existing = touched.Where(f => File.Exists(Path.Combine(build.SourceDir, f))).ToList();
        var (sparse, checkedFiles, failed) = Sparse.Run(build, existing, log);

        var checkpatch = series.Patches.Select(p => (p.FileName, additions[p.FileName], Checkpatch.Run(pristineTree, p.FullPath, log))).ToList();
        var (patches, preExisting) = Attribute(checkpatch, sparse);

        Directory.CreateDirectory(outputDir);
        var report = Path.Combine(outputDir, "analysis.json");
        AtomicFile.WriteAllText(report, JsonSerializer.Serialize(new
        {
            series = series.Directory,
            errors = patches.Sum(p => p.Errors),
            warnings = patches.Sum(p => p.Warnings),
            patches = patches.Select(p => new { patch = p.Patch, errors = p.Errors, warnings = p.Warnings, findings = p.Findings }),
            sparse_checked = checkedFiles,
            sparse_not_built = failed,
            sparse_preexisting = preExisting,
        }, Json) + "\n");
        return new AnalysisResult(patches, preExisting, checkedFiles, failed, report);
    }
}
