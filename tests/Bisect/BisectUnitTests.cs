using Kiln.Kernel.Bisect;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Tests.Bisect;

public sealed class BisectExitCodeTests
{
    [TestCase(StepVerdict.Good, 0)]
    [TestCase(StepVerdict.Bad, 1)]
    [TestCase(StepVerdict.Skip, 125)]
    [TestCase(StepVerdict.Abort, 255)]
    public void Verdicts_map_to_git_bisect_run_exit_codes(StepVerdict verdict, int code)
    {
        Assert.That(BisectExitCodes.For(verdict), Is.EqualTo(code));
        Assert.That(BisectExitCodes.Read(code), Is.EqualTo(verdict));
    }

    [TestCase(2, StepVerdict.Bad)]
    [TestCase(127, StepVerdict.Bad)]
    [TestCase(128, StepVerdict.Abort)]
    [TestCase(-1, StepVerdict.Abort)]
    public void Git_reads_other_codes_as_bad_or_abort(int code, StepVerdict verdict) =>
        Assert.That(BisectExitCodes.Read(code), Is.EqualTo(verdict));

    [TestCase(StepPhase.Configure, ExitCodes.KernelFailed, StepVerdict.Skip)]
    [TestCase(StepPhase.Build, ExitCodes.KernelFailed, StepVerdict.Skip)]
    [TestCase(StepPhase.Build, ExitCodes.BadInput, StepVerdict.Abort)]
    [TestCase(StepPhase.Configure, ExitCodes.Infrastructure, StepVerdict.Abort)]
    [TestCase(StepPhase.Boot, ExitCodes.Infrastructure, StepVerdict.Abort)]
    [TestCase(StepPhase.Boot, ExitCodes.KernelFailed, StepVerdict.Abort)]
    public void A_commit_that_does_not_configure_or_build_is_skipped_anything_else_aborts(StepPhase phase, int exitCode, StepVerdict verdict) =>
        Assert.That(BisectExitCodes.ForFailure(phase, new KilnException(exitCode, "x")), Is.EqualTo(verdict));
}

public sealed class BisectBoundTests
{
    [TestCase(1, 1)]
    [TestCase(2, 2)]
    [TestCase(5, 4)]
    [TestCase(8, 4)]
    [TestCase(9, 5)]
    [TestCase(1000, 11)]
    [TestCase(70000, 18)]
    public void Bound_is_ceil_log2_plus_one(int commits, int steps) =>
        Assert.That(BisectBound.MaxDecidingSteps(commits), Is.EqualTo(steps));

    [Test]
    public void Skips_do_not_count_against_the_bound()
    {
        StepRecord Step(StepVerdict v) => new(1, new string('a', 40), "s", v, BisectExitCodes.For(v), StepPhase.Boot, "", 0, 0, 0, 0, "");
        var steps = new[] { Step(StepVerdict.Skip), Step(StepVerdict.Skip), Step(StepVerdict.Good), Step(StepVerdict.Bad) };
        Assert.That(BisectBound.Holds(3, steps), Is.True);
        Assert.That(BisectBound.Holds(2, steps.Append(Step(StepVerdict.Good)).ToList()), Is.False);
    }

    [Test]
    public void An_empty_range_has_no_bound() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => BisectBound.MaxDecidingSteps(0));
}

public sealed class BisectLogTests
{
    private const string Found = """
        # bad: [22aa2fd2dfbaafe2287c6734e76421dd953f70d8] benign2
        # good: [fcb3a67e59b8b797abd67e3998c3d00a9d3a4bf6] base
        git bisect start '22aa2fd2dfbaafe2287c6734e76421dd953f70d8' 'fcb3a67e59b8b797abd67e3998c3d00a9d3a4bf6'
        # skip: [3ed94bc85fab088f5f062d17a809cbf5e9d017df] breakbuild
        git bisect skip 3ed94bc85fab088f5f062d17a809cbf5e9d017df
        # good: [f83901cf8a0f134513f470a10d068df4d9159db9] fixbuild
        git bisect good f83901cf8a0f134513f470a10d068df4d9159db9
        # bad: [e6dd270fcbb1eb7acbf52a696d10cb3806d36476] panic
        git bisect bad e6dd270fcbb1eb7acbf52a696d10cb3806d36476
        # first bad commit: [e6dd270fcbb1eb7acbf52a696d10cb3806d36476] panic
        """;

    [Test]
    public void Reads_the_marks_and_the_first_bad_commit()
    {
        var log = BisectLog.Parse(Found);
        Assert.That(log.FirstBad, Is.EqualTo(new BisectLogEntry("first bad commit", "e6dd270fcbb1eb7acbf52a696d10cb3806d36476", "panic")));
        Assert.That(log.Marks.Select(m => m.Kind), Is.EqualTo(new[] { "bad", "good", "skip", "good", "bad" }));
        Assert.That(log.PossibleFirstBad, Is.Empty);
        Assert.That(log.Lines, Has.Count.EqualTo(10));
    }

    [Test]
    public void Reads_the_candidates_when_only_skipped_commits_are_left()
    {
        var log = BisectLog.Parse("""
            # bad: [22aa2fd2dfbaafe2287c6734e76421dd953f70d8] benign2
            # good: [fcb3a67e59b8b797abd67e3998c3d00a9d3a4bf6] base
            # skip: [3ed94bc85fab088f5f062d17a809cbf5e9d017df] breakbuild
            git bisect skip 3ed94bc85fab088f5f062d17a809cbf5e9d017df
            # only skipped commits left to test
            # possible first bad commit: [e6dd270fcbb1eb7acbf52a696d10cb3806d36476] panic
            # possible first bad commit: [3ed94bc85fab088f5f062d17a809cbf5e9d017df] breakbuild
            """);
        Assert.That(log.FirstBad, Is.Null);
        Assert.That(log.PossibleFirstBad.Select(e => e.Subject), Is.EqualTo(new[] { "panic", "breakbuild" }));
    }

    [Test]
    public void An_empty_log_has_nothing() => Assert.That(BisectLog.Parse("").Entries, Is.Empty);
}

public sealed class BisectStepJudgeTests
{
    private static BootCheck Check(string name, bool passed) => new(name, passed, passed ? "ok" : name + " failed", TimeSpan.Zero);

    [Test]
    public void Without_tests_every_boot_check_decides()
    {
        var (verdict, message) = BisectStepRunner.Judge([Check("qemu-exit", true), Check("no-kernel-errors", false)], "6.1.192", testsDecide: false);
        Assert.That(verdict, Is.EqualTo(StepVerdict.Bad));
        Assert.That(message, Does.Contain("no-kernel-errors failed"));
        Assert.That(BisectStepRunner.Judge([Check("qemu-exit", true)], "6.1.192", false).Verdict, Is.EqualTo(StepVerdict.Good));
    }

    [Test]
    public void With_tests_only_the_tests_decide()
    {
        var checks = new[] { Check("no-kernel-errors", false), Check("test:probe.sh", true) };
        Assert.That(BisectStepRunner.Judge(checks, "6.1.192", testsDecide: true).Verdict, Is.EqualTo(StepVerdict.Good));
        Assert.That(BisectStepRunner.Judge([Check("test:probe.sh", false)], null, testsDecide: true).Verdict, Is.EqualTo(StepVerdict.Bad));
    }

    [Test]
    public void Repeated_boots_are_good_only_when_all_pass_and_flaky_when_they_disagree()
    {
        (StepVerdict, string) Good(int n) => (StepVerdict.Good, $"booted {n}");
        (StepVerdict, string) Bad(string why) => (StepVerdict.Bad, why);
        Assert.That(BisectStepRunner.Combine([Good(1)]), Is.EqualTo(Good(1)), "one boot is its own verdict");
        Assert.That(BisectStepRunner.Combine([Good(1), Good(2), Good(3)]), Is.EqualTo((StepVerdict.Good, "booted 1 (all 3 boots)")));
        Assert.That(BisectStepRunner.Combine([Good(1), Bad("panic"), Good(3)]),
            Is.EqualTo((StepVerdict.Bad, "flaky: 2 of 3 boots passed; boot 2: panic")));
        Assert.That(BisectStepRunner.Combine([Bad("oops"), Bad("panic")]), Is.EqualTo((StepVerdict.Bad, "all 2 boots failed; boot 1: oops")));
    }

    [Test]
    public void A_step_is_flaky_when_some_of_its_boots_passed()
    {
        var step = new StepRecord(1, new string('a', 40), "s", StepVerdict.Bad, 1, StepPhase.Boot, "m", 0, 0, 0, 0, "/d") { Boots = 3, Passes = 2 };
        Assert.That(step.Flaky, Is.True);
        Assert.That((step with { Passes = 0 }).Flaky, Is.False);
        Assert.That((step with { Passes = 3 }).Flaky, Is.False);
    }
}
