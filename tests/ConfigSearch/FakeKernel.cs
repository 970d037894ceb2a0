using Kiln.Kernel.Bisect;
using Kiln.Kernel.ConfigSearch;

namespace Kiln.Tests.ConfigSearch;

/// <summary>
/// A kernel in miniature for the search logic: a Kconfig of bool options with 'depends on' and 'select' (applied to a
/// fixed point, as make olddefconfig does), options without a prompt, and a test that is a function of the config.
/// </summary>
internal sealed class FakeKernel(Func<OptionSet, StepVerdict> test) : IConfigTrials
{
    private readonly List<(string Option, string On)> _dependsOn = [];
    private readonly List<(string Option, string Selects)> _selects = [];
    private readonly HashSet<string> _noPrompt = [];

    public int Builds { get; private set; }
    public List<OptionSet> Built { get; } = [];

    /// <summary><paramref name="option"/> is off whenever <paramref name="on"/> is.</summary>
    public FakeKernel DependsOn(string option, string on)
    {
        _dependsOn.Add((option, on));
        return this;
    }

    /// <summary><paramref name="option"/> on turns <paramref name="selected"/> on; without a prompt, nothing else can.</summary>
    public FakeKernel Selects(string option, string selected)
    {
        _selects.Add((option, selected));
        _noPrompt.Add(selected);
        return this;
    }

    public OptionSet Normalize(OptionSet wanted)
    {
        var values = wanted.Values.ToDictionary(v => v.Key, v => v.Value);
        bool On(string s) => values.GetValueOrDefault(s) is "y";
        for (var changed = true; changed;)
        {
            changed = false;
            // An option without a prompt is on exactly when something selects it.
            foreach (var selected in _noPrompt)
            {
                var value = _selects.Any(s => s.Selects == selected && On(s.Option)) ? "y" : "n";
                changed |= values.GetValueOrDefault(selected, "n") != value;
                values[selected] = value;
            }
            foreach (var (option, _) in _dependsOn.Where(d => On(d.Option) && !On(d.On)).ToList())
            {
                values[option] = "n";
                changed = true;
            }
        }
        return new OptionSet(values);
    }

    public TrialResult Test(OptionSet config, int step)
    {
        Builds++;
        Built.Add(config);
        var verdict = test(config);
        return new TrialResult(verdict, $"fake {verdict}", 1, 1, 2, null);
    }

    public static OptionSet Config(params string[] on) => new(on.Select(o => KeyValuePair.Create(o, "y")));

    public static OptionSet Config(IEnumerable<string> on, IEnumerable<string> off) =>
        new(on.Select(o => KeyValuePair.Create(o, "y")).Concat(off.Select(o => KeyValuePair.Create(o, "n"))));
}
