using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Kiln.Kernel.Build;

/// <summary>
/// Turns kbuild's quiet output ("  CC      kernel/fork.o") into a progress line every few seconds:
/// steps done (out of the previous build's count when known), what is being built, time elapsed.
/// </summary>
public sealed class MakeProgress
{
    private static readonly Regex Step = new(@"^\s{2}([A-Z][A-Z0-9_]{1,8})\s+(\S.*)$", RegexOptions.Compiled);
    private readonly Action<string> _report;
    private readonly int? _expectedSteps;
    private readonly TimeSpan _interval;
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private TimeSpan _lastReport;

    public MakeProgress(Action<string> report, int? expectedSteps, TimeSpan? interval = null)
    {
        _report = report;
        _expectedSteps = expectedSteps;
        _interval = interval ?? TimeSpan.FromSeconds(10);
    }

    public int Steps { get; private set; }
    public string? Current { get; private set; }

    public void OnLine(string line)
    {
        var m = Step.Match(line);
        if (!m.Success) return;
        Steps++;
        Current = $"{m.Groups[1].Value} {m.Groups[2].Value}";
        if (_watch.Elapsed - _lastReport < _interval) return;
        _lastReport = _watch.Elapsed;
        _report(Describe());
    }

    public string Describe()
    {
        // The previous build's count is only a guess at this one's (an incremental build before a full one): past it, no total.
        var of = _expectedSteps is > 0 && Steps <= _expectedSteps ? $"/{_expectedSteps} (~{Math.Min(99, 100 * Steps / _expectedSteps.Value)}%)" : "";
        return $"[{_watch.Elapsed:mm\\:ss}] {Steps}{of} steps, now {Current}";
    }
}
