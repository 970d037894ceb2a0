using System.Text.RegularExpressions;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Kselftest;

/// <summary>
/// The kernel's selftests as --kselftest names them: the targets the tree's tools/testing/selftests/Makefile lists, their
/// config fragments, and the TAP that run_kselftest.sh prints, one check per test.
/// </summary>
public static partial class Kselftests
{
    public const string Directory = "tools/testing/selftests";
    /// <summary>The prefix of the checks: kselftest:TARGET.TEST.</summary>
    public const string CheckPrefix = "kselftest:";

    [GeneratedRegex(@"^TARGETS\s*\+=\s*(\S+)\s*$")]
    private static partial Regex TargetLine();

    /// <summary>The targets the tree's selftests Makefile builds by default (TARGETS += …), in its order.</summary>
    public static IReadOnlyList<string> ValidTargets(string tree)
    {
        var makefile = Path.Combine(tree, Directory, "Makefile");
        if (!File.Exists(makefile)) return [];
        return File.ReadLines(makefile).Select(l => TargetLine().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct().ToList();
    }

    /// <summary>Exit 2 naming an unknown target and listing the tree's; called before anything is built.</summary>
    public static void Check(string tree, IReadOnlyList<string> targets)
    {
        var valid = ValidTargets(tree);
        if (valid.Count == 0)
            throw KilnException.BadInput($"--kselftest: this tree has no {Directory}/Makefile listing selftest targets ({tree}).");
        var unknown = targets.Where(t => !valid.Contains(t)).ToList();
        if (unknown.Count > 0)
            throw KilnException.BadInput($"--kselftest: unknown selftest target{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown)}. " +
                                         $"This tree's targets ({Directory}/Makefile): {string.Join(", ", valid)}.");
    }

    /// <summary><paramref name="fragments"/> followed by each target's config fragment (tools/testing/selftests/TARGET/config), where it has one.</summary>
    public static FragmentSet WithFragments(FragmentSet fragments, string tree, IReadOnlyList<string> targets) =>
        new(fragments.Fragments.Concat(targets
            .Select(t => Path.Combine(tree, Directory, t, "config"))
            .Where(File.Exists)
            .Select(path => ConfigFragment.Load(path, Path.GetRelativePath(tree, path)))));

    /// <summary>One test of run_kselftest.sh's TAP: its target and name, verdict, the directive's reason, and the lines it printed.</summary>
    public sealed record TestResult(string Target, string Name, CheckStatus Status, string Reason, IReadOnlyList<string> Output);

    [GeneratedRegex(@"^(ok|not ok) \d+ selftests: (\S+): (.+?)(?: # (.*))?$")]
    private static partial Regex ResultLine();

    /// <summary>What the runner prints as a test starts: <c># selftests: timers: posix_timers</c>.</summary>
    [GeneratedRegex(@"^# selftests: (\S+): (.+?)\s*$")]
    private static partial Regex StartLine();

    /// <summary>The test that started and never reported a result (the guest hung or died in it), or null.</summary>
    public static (string Target, string Name)? Unfinished(IEnumerable<string> lines)
    {
        (string, string)? running = null;
        foreach (var line in lines.Select(l => l.TrimEnd('\r')))
        {
            if (StartLine().Match(line) is { Success: true } start) running = (start.Groups[1].Value, start.Groups[2].Value);
            else if (ResultLine().IsMatch(line)) running = null;
        }
        return running;
    }

    /// <summary>
    /// The guest's time limit when --timeout is not given: each installed test's own (the target's <c>settings</c>
    /// <c>timeout=N</c>, the runner's 45 s otherwise, 10 minutes for a target that turns it off with 0), plus two minutes
    /// for the boot; kselftest-list.txt names the tests.
    /// </summary>
    public static TimeSpan GuestTimeout(string installDirectory)
    {
        var list = Path.Combine(installDirectory, "kselftest-list.txt");
        var tests = File.Exists(list) ? File.ReadLines(list).Where(l => l.Contains(':')).Select(l => l[..l.IndexOf(':')]).ToList() : [];
        double Budget(string target)
        {
            var settings = Path.Combine(installDirectory, target, "settings");
            var line = File.Exists(settings) ? File.ReadLines(settings).FirstOrDefault(l => l.StartsWith("timeout=", StringComparison.Ordinal)) : null;
            return line is not null && int.TryParse(line["timeout=".Length..], out var seconds) ? seconds == 0 ? 600 : seconds : 45;
        }
        return TimeSpan.FromSeconds(120 + tests.Sum(Budget));
    }

    /// <summary>
    /// The top-level results of run_kselftest.sh (TAP 13: <c>ok 1 selftests: timers: posix_timers</c>, <c># SKIP</c>,
    /// <c>not ok … # TIMEOUT 45 seconds</c>) with the <c># </c> lines each test printed before its result.
    /// </summary>
    public static IReadOnlyList<TestResult> ParseTap(IEnumerable<string> lines)
    {
        var results = new List<TestResult>();
        var output = new List<string>();
        foreach (var line in lines.Select(l => l.TrimEnd('\r')))
        {
            if (ResultLine().Match(line) is { Success: true } m)
            {
                var directive = m.Groups[4].Success ? m.Groups[4].Value.Trim() : "";
                var status = directive.StartsWith("SKIP", StringComparison.OrdinalIgnoreCase) ? CheckStatus.Skipped
                    : m.Groups[1].Value == "ok" ? CheckStatus.Pass : CheckStatus.Fail;
                results.Add(new TestResult(m.Groups[2].Value, m.Groups[3].Value.Trim(), status, directive, output.ToList()));
                output.Clear();
            }
            else if (line.StartsWith("# ", StringComparison.Ordinal) || line == "#")
            {
                output.Add(line.Length > 2 ? line[2..] : "");
            }
        }
        return results;
    }

    /// <summary>
    /// One check per test, and "kselftest" for the run: it fails when the guest did not finish (<paramref name="unfinished"/>,
    /// the test it was in, fails with <paramref name="failure"/>) or a requested target ran no test.
    /// </summary>
    public static IReadOnlyList<BootCheck> Judge(IReadOnlyList<TestResult> results, IReadOnlyList<string> targets,
        (string Target, string Name)? unfinished = null, string? failure = null)
    {
        var checks = new List<BootCheck>();
        var missing = targets.Where(t => results.All(r => r.Target != t) && unfinished?.Target != t).ToList();
        checks.Add(failure is not null
            ? new BootCheck("kselftest", false, $"the guest did not finish the selftests: {failure}; {results.Count} test(s) reported before that", TimeSpan.Zero)
            : missing.Count == 0
            ? new BootCheck("kselftest", true, $"{results.Count} test(s) of {string.Join(", ", targets)}: {results.Count(r => r.Status == CheckStatus.Pass)} passed, " +
                                                $"{results.Count(r => r.Status == CheckStatus.Fail)} failed, {results.Count(r => r.Status == CheckStatus.Skipped)} skipped", TimeSpan.Zero)
            : new BootCheck("kselftest", false, $"no test of {string.Join(", ", missing)} reported a result (see the run's stdout and serial.log)", TimeSpan.Zero));
        if (unfinished is { } hung)
            checks.Add(new BootCheck($"{CheckPrefix}{hung.Target}.{hung.Name}", false, "started and never finished: " + (failure ?? "the runner reported no result"), TimeSpan.Zero));
        foreach (var r in results)
        {
            var tail = string.Join('\n', r.Output.TakeLast(40));
            checks.Add(new BootCheck($"{CheckPrefix}{r.Target}.{r.Name}", r.Status,
                r.Status switch
                {
                    CheckStatus.Pass => "ok",
                    CheckStatus.Skipped => "skipped: " + (r.Reason.Length > 4 ? r.Reason[4..].Trim() : "no reason given"),
                    _ => "not ok" + (r.Reason.Length > 0 ? " # " + r.Reason : "") + (r.Output.LastOrDefault(o => o.Length > 0) is { } last ? ": " + last : ""),
                },
                TimeSpan.Zero, r.Status == CheckStatus.Fail ? tail : null));
        }
        return checks;
    }
}
