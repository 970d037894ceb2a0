using Kiln.Kernel.Bisect;
using Kiln.Kernel.Config;
using Kiln.Kernel.ConfigSearch;
using Kiln.Kernel.Diagnostics;
using Kiln.Tests.Config;

namespace Kiln.Tests.ConfigSearch;

public class MinConfigSearchTests
{
    private const string Key = "0123456789abcdef0123456789abcdef";
    private static readonly string[] Needed = ["OPT03", "OPT17", "OPT33"];

    /// <summary>40 options; the test needs three, DEP needs OPT17 (and goes with it), SEL selects HELPER (no prompt).</summary>
    private static (FakeKernel Kernel, OptionSet Start, IReadOnlySet<string> Tunable) World()
    {
        var kernel = new FakeKernel(c => Needed.All(c.IsEnabled) ? StepVerdict.Good : StepVerdict.Bad)
            .DependsOn("DEP", "OPT17").Selects("SEL", "HELPER");
        var options = Enumerable.Range(1, 40).Select(i => $"OPT{i:D2}").Concat(["DEP", "SEL"]).ToList();
        var start = kernel.Normalize(FakeKernel.Config(options.ToArray()));
        return (kernel, start, options.ToHashSet());
    }

    [Test]
    public void Converges_to_the_options_the_test_needs_in_far_fewer_builds_than_one_at_a_time()
    {
        using var dir = new TempDirectory();
        var (kernel, start, tunable) = World();
        var outcome = new MinConfigSearch(kernel, Path.Combine(dir.Path, "state.json"), new RecordingLog()).Run(start, tunable, Key, maxSteps: null);

        Assert.That(outcome.Status, Is.EqualTo(MinConfigStatus.Converged));
        Assert.That(outcome.State.Converged, Is.True);
        Assert.That(outcome.Best.Enabled, Is.EquivalentTo(Needed));
        Assert.That(outcome.State.Required, Is.EquivalentTo(Needed));
        Assert.That(outcome.State.StartEnabled, Is.EqualTo(43));
        Assert.That(kernel.Builds, Is.EqualTo(outcome.State.Steps.Count));
        Assert.That(kernel.Builds, Is.LessThan(start.Enabled.Count), "delta debugging needs fewer builds than ktest's one option per build");
        Assert.That(kernel.Built.Skip(1).All(c => Needed.All(c.IsEnabled) || c.Enabled.Count < start.Enabled.Count));
        // HELPER has no prompt: never tried by hand, it went when SEL did.
        Assert.That(outcome.State.Steps.SelectMany(s => s.Applied), Does.Not.Contain("HELPER"));
        Assert.That(outcome.State.Steps.SelectMany(s => s.Moved).Select(m => m.Symbol), Does.Contain("HELPER"));
    }

    [Test]
    public void Options_Kconfig_keeps_on_cost_no_build_and_are_listed()
    {
        using var dir = new TempDirectory();
        // LOCKED depends on nothing the search can change, but make olddefconfig keeps it on (it is selected by NEEDED).
        var kernel = new FakeKernel(c => c.IsEnabled("NEEDED") ? StepVerdict.Good : StepVerdict.Bad).Selects("NEEDED", "LOCKED");
        var start = kernel.Normalize(FakeKernel.Config("NEEDED", "A", "B"));
        // LOCKED is tunable here on purpose: the search must find out from olddefconfig that it cannot go.
        var outcome = new MinConfigSearch(kernel, Path.Combine(dir.Path, "state.json"), new RecordingLog())
            .Run(start, new HashSet<string> { "NEEDED", "A", "B", "LOCKED" }, Key, maxSteps: null);

        Assert.That(outcome.Best.Enabled, Is.EquivalentTo(new[] { "NEEDED", "LOCKED" }));
        Assert.That(outcome.State.Forced, Does.Contain("LOCKED"));
        Assert.That(outcome.State.Steps.Where(s => s.Applied.SequenceEqual(["LOCKED"])), Is.Empty, "a group olddefconfig refuses is never built");
    }

    [Test]
    public void Max_steps_stops_the_run_and_the_next_run_resumes_to_the_same_result()
    {
        using var dir = new TempDirectory();
        var state = Path.Combine(dir.Path, "state.json");
        var (whole, start, tunable) = World();
        var uninterrupted = new MinConfigSearch(whole, Path.Combine(dir.Path, "other.json"), new RecordingLog()).Run(start, tunable, Key, maxSteps: null);

        var (first, _, _) = World();
        var stopped = new MinConfigSearch(first, state, new RecordingLog()).Run(start, tunable, Key, maxSteps: 3);
        Assert.That((stopped.Status, stopped.BuildsThisRun, first.Builds), Is.EqualTo((MinConfigStatus.StepLimit, 3, 3)));
        Assert.That(stopped.State.Converged, Is.False);
        Assert.That(File.Exists(state));
        Assert.That(stopped.Fragment("Linux test"), Does.Contain("has not converged"));

        var (second, _, _) = World();
        var log = new RecordingLog();
        var resumed = new MinConfigSearch(second, state, log).Run(start, tunable, Key, maxSteps: null);
        Assert.That(resumed.Resumed, Is.True);
        Assert.That(log.Lines, Has.Some.Contains("resuming from " + state));
        Assert.That(resumed.Status, Is.EqualTo(MinConfigStatus.Converged));
        Assert.That(resumed.Best.Enabled, Is.EquivalentTo(uninterrupted.Best.Enabled));
        Assert.That(3 + second.Builds, Is.EqualTo(whole.Builds), "no build is repeated after a resume");
        Assert.That(resumed.State.Steps.Select(s => s.Number), Is.EqualTo(Enumerable.Range(1, whole.Builds)));
    }

    [TestCase("")]
    [TestCase("{\"format\": 1, \"key\": \"0123456789abcdef0123456789abcdef\", \"startEnabled\": 4")]
    [TestCase("{\"format\": 1, \"key\": \"0123456789abcdef0123456789abcdef\", \"startEnabled\": 4, \"best\": {}, \"queue\": []}")]
    [TestCase("{\"format\": 99, \"key\": \"0123456789abcdef0123456789abcdef\", \"startEnabled\": 4, \"best\": {\"A\": \"y\"}, \"queue\": []}")]
    [TestCase("{\"format\": 1, \"key\": \"another search\", \"startEnabled\": 4, \"best\": {\"A\": \"y\"}, \"queue\": []}")]
    [TestCase("not json")]
    public void A_state_that_does_not_read_is_ignored_with_a_warning_and_the_search_starts_over(string text)
    {
        using var dir = new TempDirectory();
        var state = dir.Write("state.json", text);
        var (kernel, start, tunable) = World();
        var log = new RecordingLog();
        var outcome = new MinConfigSearch(kernel, state, log).Run(start, tunable, Key, maxSteps: 1);

        Assert.That(outcome.Resumed, Is.False);
        Assert.That(log.Lines, Has.Some.StartsWith($"warning: Ignoring the MinConfig state {state}:"));
        Assert.That(outcome.State.Steps.Single().Action, Is.EqualTo("check the starting config"));
        Assert.That(MinConfigState.Load(state, Key, new RecordingLog()), Is.Not.Null, "the state written over it reads back");
    }

    [Test]
    public void A_starting_config_that_fails_is_exit_2_after_one_build()
    {
        using var dir = new TempDirectory();
        var kernel = new FakeKernel(_ => StepVerdict.Bad);
        var outcome = new MinConfigSearch(kernel, Path.Combine(dir.Path, "state.json"), new RecordingLog())
            .Run(FakeKernel.Config("A", "B"), new HashSet<string> { "A", "B" }, Key, maxSteps: null);
        Assert.That((outcome.Status, kernel.Builds), Is.EqualTo((MinConfigStatus.StartFails, 1)));
        var error = Assert.Throws<KilnException>(() => ConfigSearchSession.Conclude(outcome))!;
        Assert.That(error.ExitCode, Is.EqualTo(ExitCodes.BadInput));
    }

    [Test]
    public void The_fragment_is_one_Configure_reads_without_warnings_and_names_no_option_in_its_comments()
    {
        using var dir = new TempDirectory();
        var (kernel, start, tunable) = World();
        var outcome = new MinConfigSearch(kernel, Path.Combine(dir.Path, "state.json"), new RecordingLog()).Run(start, tunable, Key, maxSteps: null);
        var text = outcome.Fragment("Linux 6.1.192 x86_64");

        var fragment = ConfigFragment.Parse(text, Path.Combine(dir.Path, "min-config.conf"), "min-config.conf");
        Assert.That(fragment.Warnings, Is.Empty);
        Assert.That(fragment.Options.Select(o => o.Display), Is.EquivalentTo(Needed.Select(n => $"CONFIG_{n}=y")));
        Assert.That(text.Split('\n').Where(l => l.StartsWith('#')), Has.None.Contains("CONFIG_"));
        Assert.That(text, Does.Contain("3 options on, from 43").And.Contain("converged after"));
    }
}
