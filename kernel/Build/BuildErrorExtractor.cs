using System.Text.RegularExpressions;

namespace Kiln.Kernel.Build;

/// <summary>Finds what a user needs from a failed build log: the compiler's errors with their context, not 10,000 lines.</summary>
public static class BuildErrorExtractor
{
    private static readonly Regex CompilerError = new(@"^(?<file>[^\s:]+):(?<line>\d+):(?:(?<col>\d+):)?\s*(?:fatal )?error:", RegexOptions.Compiled);
    private static readonly Regex MakeError = new(@"^make(\[\d+\])?: \*\*\* ", RegexOptions.Compiled);
    private static readonly Regex Context = new(@"^(In file included from|\S+: In function|\s+\||\s+\d+ \|)", RegexOptions.Compiled);

    public static IReadOnlyList<string> Extract(IReadOnlyList<string> log, int maxLines = 30)
    {
        var picked = new List<string>();
        for (var i = 0; i < log.Count && picked.Count < maxLines; i++)
        {
            if (!CompilerError.IsMatch(log[i])) continue;
            // The "In function" line before, the error, and the caret lines after it.
            if (i > 0 && Context.IsMatch(log[i - 1]) && !picked.Contains(log[i - 1])) picked.Add(log[i - 1]);
            picked.Add(log[i]);
            for (var j = i + 1; j < log.Count && j <= i + 3 && Context.IsMatch(log[j]); j++) picked.Add(log[j]);
        }
        var firstMake = log.FirstOrDefault(l => MakeError.IsMatch(l));
        if (firstMake is not null && picked.Count < maxLines) picked.Add(firstMake);
        if (picked.Count == 0) picked.AddRange(log.Skip(Math.Max(0, log.Count - 15)));
        return picked;
    }

    /// <summary>The first source file the compiler complained about, for the headline.</summary>
    public static string? FirstFailingFile(IReadOnlyList<string> log) =>
        log.Select(l => CompilerError.Match(l)).FirstOrDefault(m => m.Success) is { } m ? $"{m.Groups["file"].Value}:{m.Groups["line"].Value}" : null;
}
