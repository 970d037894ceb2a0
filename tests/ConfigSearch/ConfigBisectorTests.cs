using Kiln.Kernel.Bisect;
using Kiln.Kernel.ConfigSearch;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Tests.ConfigSearch;

public class ConfigBisectorTests
{
    private static IReadOnlyList<string> Options(int count) => Enumerable.Range(1, count).Select(i => $"OPT{i:D3}").ToList();

    [Test]
    public void One_breaking_option_among_D_is_found_within_ceil_log2_D_plus_2_builds(
        [Values(1, 2, 3, 5, 8, 13, 32, 100)] int d)
    {
        var options = Options(d);
        foreach (var breaking in new[] { options[0], options[d / 2], options[^1] })
        {
            var kernel = new FakeKernel(c => c.IsEnabled(breaking) ? StepVerdict.Bad : StepVerdict.Good);
            var outcome = new ConfigBisector(kernel, new RecordingLog()).Run(FakeKernel.Config([], options), FakeKernel.Config(options.ToArray()));

            Assert.That(outcome.Status, Is.EqualTo(ConfigBisectStatus.Found));
            Assert.That(outcome.Culprits, Is.EqualTo(new[] { new OptionChange(breaking, "n", "y") }));
            var log2 = (int)Math.Ceiling(Math.Log2(d));
            Assert.That(kernel.Builds, Is.LessThanOrEqualTo(log2 + 2), $"D={d}, breaking {breaking}");
            Assert.That(outcome.Builds, Is.EqualTo(kernel.Builds));
            Assert.That(outcome.MaxBuilds, Is.EqualTo(log2 + 2));
            Assert.That(outcome.WithinBound, Is.True);
            Assert.That(outcome.Steps.Take(2).Select(s => s.Action), Is.EqualTo(new[] { "check good config", "check bad config" }));
        }
    }

    [Test]
    public void Options_make_olddefconfig_moves_together_are_recorded_and_the_dependent_option_is_named()
    {
        // FS_XATTR breaks the boot but needs FS; SEL selects HELPER, which has no prompt.
        var kernel = new FakeKernel(c => c.IsEnabled("FS_XATTR") ? StepVerdict.Bad : StepVerdict.Good)
            .DependsOn("FS_XATTR", "FS").Selects("SEL", "HELPER");
        string[] all = ["FS", "FS_XATTR", "HELPER", "SEL", "X1", "X2", "X3", "X4"];
        var good = kernel.Normalize(FakeKernel.Config([], all));
        var bad = kernel.Normalize(FakeKernel.Config(all));

        var outcome = new ConfigBisector(kernel, new RecordingLog()).Run(good, bad);

        Assert.That(outcome.Culprits, Is.EqualTo(new[] { new OptionChange("FS_XATTR", "n", "y") }));
        Assert.That(outcome.WithinBound, Is.True, $"{outcome.Builds} builds");
        // Applying SEL moved HELPER with it: the step records what moved, not only what was applied.
        var withSelect = outcome.Steps.First(s => s.Applied.Contains("SEL"));
        Assert.That(withSelect.Moved.Select(m => m.Symbol), Does.Contain("HELPER"));
    }

    [Test]
    public void A_change_Kconfig_only_makes_with_another_is_named_as_the_set()
    {
        // HELPER breaks, and only SEL can turn it on: neither moves apart from the other.
        var kernel = new FakeKernel(c => c.IsEnabled("HELPER") ? StepVerdict.Bad : StepVerdict.Good).Selects("SEL", "HELPER");
        var good = kernel.Normalize(FakeKernel.Config([], ["SEL", "X1"]));
        var bad = kernel.Normalize(FakeKernel.Config("SEL", "X1"));

        var outcome = new ConfigBisector(kernel, new RecordingLog()).Run(good, bad);

        Assert.That(outcome.Culprits.Select(c => c.Symbol), Is.EqualTo(new[] { "HELPER", "SEL" }));
        Assert.That(outcome.Builds, Is.LessThanOrEqualTo(outcome.MaxBuilds));
    }

    [Test]
    public void A_good_end_that_fails_stops_after_one_build_and_a_bad_end_that_passes_after_two()
    {
        var fails = new FakeKernel(_ => StepVerdict.Bad);
        var outcome = new ConfigBisector(fails, new RecordingLog()).Run(FakeKernel.Config([], ["A", "B"]), FakeKernel.Config("A", "B"));
        Assert.That((outcome.Status, outcome.Builds), Is.EqualTo((ConfigBisectStatus.GoodFails, 1)));
        Assert.That(outcome.Problem, Does.Contain("good config does not pass"));

        var passes = new FakeKernel(_ => StepVerdict.Good);
        outcome = new ConfigBisector(passes, new RecordingLog()).Run(FakeKernel.Config([], ["A", "B"]), FakeKernel.Config("A", "B"));
        Assert.That((outcome.Status, outcome.Builds), Is.EqualTo((ConfigBisectStatus.BadPasses, 2)));
        Assert.That(outcome.Problem, Does.Contain("bad config passes"));

        var unbuildable = new FakeKernel(c => c.IsEnabled("A") ? StepVerdict.Skip : StepVerdict.Good);
        outcome = new ConfigBisector(unbuildable, new RecordingLog()).Run(FakeKernel.Config([], ["A", "B"]), FakeKernel.Config("A", "B"));
        Assert.That(outcome.Status, Is.EqualTo(ConfigBisectStatus.BadPasses));
        Assert.That(outcome.Problem, Does.Contain("does not build"));
        Assert.Throws<KilnException>(() => ConfigSearchSession.Conclude(outcome));
    }

    [Test]
    public void A_half_that_does_not_build_is_passed_over_for_the_other()
    {
        // B without C does not build (the first half tried is A and B); C breaks the boot.
        var kernel = new FakeKernel(c => c.IsEnabled("B") && !c.IsEnabled("C") ? StepVerdict.Skip : c.IsEnabled("C") ? StepVerdict.Bad : StepVerdict.Good);
        var outcome = new ConfigBisector(kernel, new RecordingLog()).Run(FakeKernel.Config([], ["A", "B", "C"]), FakeKernel.Config("A", "B", "C"));
        Assert.That(outcome.Culprits.Select(c => c.Symbol), Is.EqualTo(new[] { "C" }));
        Assert.That(outcome.Steps[2].Verdict, Is.EqualTo(StepVerdict.Skip));
    }
}
