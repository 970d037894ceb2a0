using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Patches;

/// <summary>One rule violation, located as file:line so editors and CI logs can jump to it.</summary>
public sealed record PatchProblem(string File, int Line, string Message)
{
    public override string ToString() => $"{File}:{Line}: {Message}";
}

/// <summary>
/// The series rules (LinuxKit's): unique four-digit prefixes, From/Subject/Signed-off-by present,
/// and backports say where they came from.
/// </summary>
public static partial class PatchLint
{
    public static IReadOnlyList<PatchProblem> Check(PatchSeries series)
    {
        var problems = new List<PatchProblem>();
        var byNumber = new Dictionary<int, PatchFile>();
        foreach (var patch in series.Patches)
        {
            var file = patch.FullPath;
            if (patch.NumberPrefixText is null)
                problems.Add(new(file, 1, "file name has no numeric prefix; name it NNNN-subject.patch (git format-patch does)"));
            else if (patch.NumberPrefixText.Length != 4)
                problems.Add(new(file, 1, $"numeric prefix '{patch.NumberPrefixText}' must have exactly 4 digits (NNNN-subject.patch)"));
            if (patch.Number is { } number && !byNumber.TryAdd(number, patch))
                problems.Add(new(file, 1, $"numeric prefix {patch.NumberPrefixText} is also used by {byNumber[number].FileName}; each number may appear once"));

            if (patch.From is null)
                problems.Add(new(file, 1, "missing 'From:' header (the author); make the patch with git format-patch"));
            if (patch.Subject is null)
                problems.Add(new(file, 1, "missing 'Subject:' header; make the patch with git format-patch"));
            if (patch.SignedOffBy.Count == 0)
                problems.Add(new(file, patch.MessageEndLine, "missing 'Signed-off-by:' line in the commit message (git commit -s)"));

            if (patch.IsBackport)
            {
                foreach (var sha in patch.CherryPickedFrom.Where(c => !FullSha().IsMatch(c.Value)))
                    problems.Add(new(file, sha.Line, $"'(cherry picked from commit {sha.Value})' must name the full 40-hex upstream commit"));
                if (!patch.CherryPickedFrom.Any(c => FullSha().IsMatch(c.Value)) && patch.Origins.Count == 0)
                    problems.Add(new(file, patch.Subject!.Line,
                        "backport without provenance: add '(cherry picked from commit <40-hex sha>)' (git cherry-pick -x) or an 'Origin: <url>' line"));
            }
        }
        return problems;
    }

    /// <summary>Lints the series and throws bad input listing every problem, so one run shows them all.</summary>
    public static void ThrowIfProblems(PatchSeries series)
    {
        var problems = Check(series);
        if (problems.Count == 0) return;
        throw KilnException.BadInput(
            $"Patch series {series.Directory} has {problems.Count} problem(s):" + Environment.NewLine +
            string.Join(Environment.NewLine, problems.Select(p => "  " + p)));
    }

    [GeneratedRegex("^[0-9a-fA-F]{40}$")]
    private static partial Regex FullSha();
}
