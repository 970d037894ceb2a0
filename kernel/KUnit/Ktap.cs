using System.Text.RegularExpressions;

namespace Kiln.Kernel.KUnit;

public enum KUnitStatus
{
    Pass,
    Fail,
    Skip,
}

/// <summary>One KUnit test case: its verdict, the skip reason, the lines KUnit printed for it, and its parameters' verdicts.</summary>
public sealed record KUnitCase(string Suite, string Name, KUnitStatus Status, string? SkipReason, IReadOnlyList<string> Diagnostics,
    IReadOnlyList<(string Name, KUnitStatus Status)> Parameters);

/// <summary>A suite and its cases; <see cref="Finished"/> is false when the console ended before the suite's result line (a crash, a hang).</summary>
public sealed record KUnitSuite(string Name, KUnitStatus Status, bool Finished, IReadOnlyList<KUnitCase> Cases);

/// <summary>What the console said: whether KTAP started, the suites it planned and those it reported.</summary>
public sealed record KtapRun(bool Found, int? PlannedSuites, IReadOnlyList<KUnitSuite> Suites)
{
    public IEnumerable<KUnitCase> Cases => Suites.SelectMany(s => s.Cases);
    /// <summary>Every planned suite reported its result.</summary>
    public bool Complete => Found && PlannedSuites is { } planned && Suites.Count(s => s.Finished) == planned;
}

/// <summary>
/// Reads KUnit's KTAP (v1, as Linux 5.18+ prints it; TAP 14 as older kernels do) from a serial console: printk's time
/// prefix is dropped, nesting is read from the four-space indentation (suites at depth 0, cases at 1, parameters at 2),
/// and the lines between a case's start and its result line are its diagnostics. Kernel messages between KTAP lines
/// (unindented, not KTAP) are not part of any test.
/// </summary>
public static partial class Ktap
{
    [GeneratedRegex(@"^\[\s*\d+\.\d+\]\s?")]
    private static partial Regex PrintkTime();

    [GeneratedRegex(@"^K?TAP version \d+$")]
    private static partial Regex Version();

    [GeneratedRegex(@"^1\.\.(\d+)$")]
    private static partial Regex Plan();

    [GeneratedRegex(@"^(ok|not ok) \d+(?: -)?(?: (.*?))?(?: # (.*))?$")]
    private static partial Regex Result();

    [GeneratedRegex(@"^# Subtest: (.+)$")]
    private static partial Regex Subtest();

    /// <summary>KUnit's own counters ("# suite: pass:1 fail:0 skip:0 total:1", "# Totals: …"): not diagnostics.</summary>
    [GeneratedRegex(@"^# [^ ]+: pass:\d+ fail:\d+ skip:\d+ total:\d+$")]
    private static partial Regex Counts();

    public static KtapRun Parse(IEnumerable<string> consoleLines)
    {
        var found = false;
        int? planned = null;
        var suites = new List<KUnitSuite>();
        string? suite = null;
        var cases = new List<KUnitCase>();
        var diagnostics = new List<string>();
        var parameters = new List<(string, KUnitStatus)>();

        foreach (var raw in consoleLines)
        {
            var line = PrintkTime().Replace(raw.TrimEnd('\r'), "");
            var content = line.TrimStart(' ');
            var depth = (line.Length - content.Length) / 4;
            if (!found)
            {
                found = depth == 0 && Version().IsMatch(content);
                continue;
            }
            if (Version().IsMatch(content)) continue;
            if (Plan().Match(content) is { Success: true } plan)
            {
                if (depth == 0) planned ??= int.Parse(plan.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                continue;
            }
            if (Subtest().Match(content) is { Success: true } subtest)
            {
                if (depth == 1 && suite is null) suite = subtest.Groups[1].Value.Trim();
                continue;
            }
            if (Result().Match(content) is { Success: true } result)
            {
                var name = result.Groups[2].Value.Trim();
                var directive = result.Groups[3].Success ? result.Groups[3].Value.Trim() : "";
                var skip = directive.StartsWith("SKIP", StringComparison.OrdinalIgnoreCase);
                var status = skip ? KUnitStatus.Skip : result.Groups[1].Value == "ok" ? KUnitStatus.Pass : KUnitStatus.Fail;
                switch (depth)
                {
                    case 0:
                        suites.Add(new KUnitSuite(name, status, Finished: true, cases.ToList()));
                        (suite, cases) = (null, new List<KUnitCase>());
                        diagnostics.Clear();
                        break;
                    case 1:
                        cases.Add(new KUnitCase(suite ?? "", name, status, skip ? directive[4..].Trim() : null, diagnostics.ToList(), parameters.ToList()));
                        diagnostics.Clear();
                        parameters.Clear();
                        break;
                    default:
                        parameters.Add((name, status));
                        break;
                }
                continue;
            }
            // Inside a suite, anything indented or commented is the running case's output; KUnit's counters are not.
            if (depth >= 1 && !Counts().IsMatch(content) && content.Length > 0) diagnostics.Add(content.StartsWith("# ", StringComparison.Ordinal) ? content[2..] : content);
        }
        if (suite is not null || cases.Count > 0)
            suites.Add(new KUnitSuite(suite ?? cases[0].Suite, KUnitStatus.Fail, Finished: false, cases));
        // A suite's cases learn its name from "# Subtest:"; older kernels print it only in the suite's result line.
        return new KtapRun(found, planned, suites.Select(s => s with { Cases = s.Cases.Select(c => c.Suite.Length > 0 ? c : c with { Suite = s.Name }).ToList() }).ToList());
    }
}
