using Kiln.Kernel.Boot;

namespace Kiln.Kernel.KUnit;

/// <summary>--kunit[=GLOB] on BootTest: the suites to run, and the verdict on what the console's KTAP says.</summary>
public sealed record KUnitRequest(string? Filter)
{
    /// <summary>The variant whose fragments (configs/fragments/kunit/) add KUnit and every suite the config's other options allow.</summary>
    public const string Variant = "kunit";
    /// <summary>The prefix of the checks, one per case: kunit:SUITE.CASE.</summary>
    public const string CheckPrefix = "kunit:";

    /// <summary>Exit 2 before anything is configured when the tree has no KUnit (lib/kunit/ arrived in Linux 5.5).</summary>
    public static void RequireIn(string tree)
    {
        if (!File.Exists(Path.Combine(tree, "lib", "kunit", "Kconfig")))
            throw Diagnostics.KilnException.BadInput($"--kunit: the kernel tree {tree} has no KUnit (lib/kunit/Kconfig; KUnit arrived in Linux 5.5). " +
                                                     "Drop --kunit, or build a kernel that has it.");
    }

    /// <summary>
    /// KUnit's own boot parameters: kunit.enable=1, since a guest config made from allnoconfig turns
    /// CONFIG_KUNIT_DEFAULT_ENABLED off (the kernel then prints "kunit: disabled" and runs nothing), and
    /// kunit.filter_glob, so only the suites (SUITE) or cases (SUITE.CASE) the glob matches run.
    /// </summary>
    public string KernelArgument => "kunit.enable=1" + (Filter is null ? "" : " kunit.filter_glob=" + Filter);

    /// <summary>
    /// One check per case (a skipped case is skipped, with KUnit's reason; a failed one carries its diagnostics), one per
    /// suite that never finished, and the "kunit" summary, which fails when no KTAP appeared, when it ended early or when
    /// no case ran at all (a failed case fails only its own check).
    /// </summary>
    public IReadOnlyList<BootCheck> Judge(KtapRun run)
    {
        var checks = new List<BootCheck>();
        foreach (var c in run.Cases)
        {
            var name = $"{CheckPrefix}{c.Suite}.{c.Name}";
            var parameters = c.Parameters.Count == 0 ? "" :
                $" ({c.Parameters.Count} parameters: {c.Parameters.Count(p => p.Status == KUnitStatus.Pass)} passed, " +
                $"{c.Parameters.Count(p => p.Status == KUnitStatus.Fail)} failed, {c.Parameters.Count(p => p.Status == KUnitStatus.Skip)} skipped)";
            checks.Add(c.Status switch
            {
                KUnitStatus.Pass => new BootCheck(name, CheckStatus.Pass, "ok" + parameters, TimeSpan.Zero),
                KUnitStatus.Skip => new BootCheck(name, CheckStatus.Skipped, "skipped by the test: " + (c.SkipReason is { Length: > 0 } r ? r : "no reason given"), TimeSpan.Zero),
                _ => new BootCheck(name, CheckStatus.Fail,
                    (c.Diagnostics.FirstOrDefault(d => d.Contains("FAILED", StringComparison.Ordinal)) ?? c.Diagnostics.FirstOrDefault() ?? "not ok") + parameters,
                    TimeSpan.Zero, string.Join('\n', c.Diagnostics)),
            });
        }
        foreach (var crashed in run.Suites.Where(s => !s.Finished))
            checks.Add(new BootCheck($"{CheckPrefix}{crashed.Name}", false,
                $"the suite never finished: the console ended after {crashed.Cases.Count} of its cases (the kernel crashed or hung in it)", TimeSpan.Zero));

        var cases = run.Cases.ToList();
        var summary = $"{run.Suites.Count} suite(s), {cases.Count} case(s): {cases.Count(c => c.Status == KUnitStatus.Pass)} passed, " +
                      $"{cases.Count(c => c.Status == KUnitStatus.Fail)} failed, {cases.Count(c => c.Status == KUnitStatus.Skip)} skipped";
        checks.Insert(0,
            !run.Found ? new BootCheck("kunit", false, "no KTAP on the console: this kernel ran no KUnit suite (is CONFIG_KUNIT=y, and are its suites built in?)", TimeSpan.Zero)
            : !run.Complete ? new BootCheck("kunit", false, $"KTAP planned {run.PlannedSuites?.ToString() ?? "no"} suite(s) and the console ended after " +
                                                            $"{run.Suites.Count(s => s.Finished)}; {summary}", TimeSpan.Zero)
            : cases.Count == 0 ? new BootCheck("kunit", false, Filter is null ? "KUnit ran no case: the kernel has no suite built in"
                : $"KUnit ran no case: kunit.filter_glob={Filter} matched no suite", TimeSpan.Zero)
            // The cases carry their own verdicts; this check is about the run as a whole.
            : new BootCheck("kunit", true, summary, TimeSpan.Zero));
        return checks;
    }
}
