using System.Globalization;
using System.Text.RegularExpressions;

namespace Kiln.Kernel.Boot;

/// <summary>A kernel error found in the serial log (1-based line number).</summary>
public sealed record KernelError(string Kind, int LineNumber, string Line);

/// <summary>What the serial log says about a boot.</summary>
public sealed record BootLogAnalysis(
    IReadOnlyList<KernelError> Errors,
    double? SecondsToInit,
    double? LastTimestamp)
{
    public KernelError? FirstError => Errors.Count > 0 ? Errors[0] : null;
}

/// <summary>
/// Reads a guest's serial console log for kernel errors and boot time. The log is untrusted (a test script writes
/// what it likes to the console): timestamps are ASCII digits only, and a line that looks like one but does not
/// parse is not one.
/// </summary>
public static partial class BootLogAnalyzer
{
    // Kernel message signatures, checked in this order on each line; the first match names the line.
    private static readonly (string Kind, Regex Pattern)[] ErrorPatterns =
    {
        ("panic", new Regex(@"Kernel panic", RegexOptions.Compiled)),
        ("oops", new Regex(@"\bOops\b", RegexOptions.Compiled)),
        ("bug", new Regex(@"\bBUG:", RegexOptions.Compiled)),
        ("warning", new Regex(@"\bWARNING:", RegexOptions.Compiled)),
        ("call-trace", new Regex(@"\bCall Trace:", RegexOptions.Compiled)),
    };

    // [0-9], not \d: \d also matches other scripts' digits (such as Arabic-Indic), which double.Parse rejects.
    [GeneratedRegex(@"^\s*\[\s*([0-9]+\.[0-9]+)\]")]
    private static partial Regex Timestamp();

    // "Run /init as init process" (initramfs) or "Run /sbin/init as init process" (root fs).
    [GeneratedRegex(@"\bRun \S+ as init process")]
    private static partial Regex InitStart();

    public static BootLogAnalysis AnalyzeFile(string serialLogPath) =>
        Analyze(File.Exists(serialLogPath) ? File.ReadLines(serialLogPath) : Array.Empty<string>());

    public static BootLogAnalysis Analyze(IEnumerable<string> lines)
    {
        var errors = new List<KernelError>();
        double? toInit = null, last = null;
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw.TrimEnd('\r');
            double? stamp = null;
            var m = Timestamp().Match(line);
            if (m.Success && double.TryParse(m.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds))
            {
                stamp = seconds;
                last = stamp;
            }
            if (toInit is null && stamp is not null && InitStart().IsMatch(line)) toInit = stamp;
            foreach (var (kind, pattern) in ErrorPatterns)
            {
                if (!pattern.IsMatch(line)) continue;
                errors.Add(new KernelError(kind, number, line));
                break;
            }
        }
        return new BootLogAnalysis(errors, toInit, last);
    }
}
