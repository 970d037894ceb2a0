using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Parsing;

namespace Kiln.Kernel.Analysis;

/// <summary>
/// The kernel's own scripts/checkpatch.pl on each patch, from the source tree being built (so the rules
/// match that kernel). --no-tree keeps it offline and independent of git; --show-types names each rule.
/// </summary>
public static partial class Checkpatch
{
    // --terse --show-types: "0001-x.patch:16: ERROR:TRAILING_WHITESPACE: trailing whitespace"
    [GeneratedRegex(@"^(?<file>.+?):(?<line>\d+): (?<sev>ERROR|WARNING|CHECK):(?<type>[A-Z0-9_]+): (?<msg>.*)$")]
    private static partial Regex TerseLine();

    public static IReadOnlyList<Finding> Run(string sourceTree, string patchPath, IKilnLog log)
    {
        var script = Path.Combine(sourceTree, "scripts", "checkpatch.pl");
        if (!File.Exists(script))
            throw KilnException.BadInput($"{sourceTree} has no scripts/checkpatch.pl: it is not a kernel source tree.");
        var result = new Command("perl", script, "--no-tree", "--terse", "--show-types", "--no-summary", "--color=never", patchPath)
        {
            WorkingDirectory = sourceTree,
            // checkpatch exits 1 when it found anything; only other codes mean it could not run.
            AcceptedExitCodes = new[] { 0, 1 },
            Purpose = "checkpatch " + Path.GetFileName(patchPath),
        }.Run(log);
        return Parse(result.StandardOutput, Path.GetFileName(patchPath));
    }

    public static IReadOnlyList<Finding> Parse(string output, string patchName) =>
        output.Split('\n').Select(l => TerseLine().Match(l.TrimEnd('\r'))).Where(m => m.Success)
            .Select(m => new Finding("checkpatch", m.Groups["sev"].Value switch
                {
                    "ERROR" => Severity.Error,
                    "WARNING" => Severity.Warning,
                    _ => Severity.Check,
                }, patchName, WholeNumber.Parse(m.Groups["line"].Value) ?? 0, m.Groups["type"].Value, m.Groups["msg"].Value))
            .ToList();
}
