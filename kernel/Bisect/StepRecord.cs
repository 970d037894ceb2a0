using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kiln.Kernel.Bisect;

/// <summary>Why a bisect ran a step.</summary>
public enum StepRole
{
    /// <summary>Testing --bad before bisecting: it must fail.</summary>
    BadEnd,
    /// <summary>Testing --good before bisecting: it must pass.</summary>
    GoodEnd,
    /// <summary>A commit git bisect run chose.</summary>
    Bisect,
    /// <summary>--bad with the first bad commit reverted: it must pass for the culprit to be confirmed.</summary>
    Revert,
}

/// <summary>
/// What one bisect step did to one commit, and how long each phase took. <see cref="TotalSeconds"/> is, as the step
/// writes it, the step process's own time; <see cref="WithTotalsSince"/> makes it the whole step as the bisect sees it.
/// </summary>
public sealed record StepRecord(
    int Number,
    string Sha,
    string Subject,
    StepVerdict Verdict,
    int ExitCode,
    StepPhase Phase,
    string Message,
    double ConfigureSeconds,
    double BuildSeconds,
    double BootSeconds,
    double TotalSeconds,
    string Directory)
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ShortSha => Sha[..Math.Min(12, Sha.Length)];

    /// <summary>Time in the kernel's build system: configuring (merge_config.sh and make) and make.</summary>
    public double MakeSeconds { get; init; }
    /// <summary>Time QEMU ran.</summary>
    public double QemuSeconds { get; init; }
    /// <summary>When the step wrote its record: the next step's checkout starts here.</summary>
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>How many times the step booted its kernel (--repeat; none when it did not build) and how many boots passed.</summary>
    public int Boots { get; init; }
    public int Passes { get; init; }
    /// <summary>Some boots passed and some failed: the step counts as bad, and the failure is intermittent.</summary>
    public bool Flaky => Passes > 0 && Passes < Boots;
    /// <summary>What the bisect ran the step for; the driver names it (the step process does not know).</summary>
    public StepRole Role { get; init; } = StepRole.Bisect;

    /// <summary>Everything but make and QEMU: git's checkout, the step process's start, preparing the boot, judging.</summary>
    public double OverheadSeconds => Math.Round(Math.Max(0, TotalSeconds - MakeSeconds - QemuSeconds), 1);

    /// <summary>
    /// Each step's total from the end of the step before (the first: from <paramref name="start"/>, when the bisect
    /// began checking out) to its own end, so the checkout git bisect does between steps and the start of the step
    /// process count as overhead too.
    /// </summary>
    public static IReadOnlyList<StepRecord> WithTotalsSince(DateTimeOffset start, IReadOnlyList<StepRecord> steps)
    {
        var since = start;
        var timed = new List<StepRecord>();
        foreach (var step in steps)
        {
            if (step.FinishedAt is not { } finished)
            {
                timed.Add(step);
                continue;
            }
            timed.Add(step with { TotalSeconds = Math.Round(Math.Max(step.TotalSeconds, (finished - since).TotalSeconds), 1) });
            since = finished;
        }
        return timed;
    }

    /// <summary>Appends one line; each step is its own process, so the file is the only shared state.</summary>
    public void AppendTo(string stepsFile) =>
        File.AppendAllText(stepsFile, JsonSerializer.Serialize(this, Json) + "\n");

    public static IReadOnlyList<StepRecord> ReadAll(string stepsFile) =>
        File.Exists(stepsFile)
            ? File.ReadLines(stepsFile).Where(l => l.Trim().Length > 0)
                .Select(l => JsonSerializer.Deserialize<StepRecord>(l, Json) ?? throw new InvalidDataException($"{stepsFile}: empty step record"))
                .ToList()
            : [];
}
