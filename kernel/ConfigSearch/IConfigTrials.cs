using Kiln.Kernel.Bisect;

namespace Kiln.Kernel.ConfigSearch;

/// <summary>
/// What a config search asks of the kernel: what Kconfig makes of a config (cheap: make olddefconfig), and whether a
/// config builds, boots and passes (expensive: one build). The searches count only <see cref="Test"/> as a build.
/// </summary>
public interface IConfigTrials
{
    /// <summary>The config make olddefconfig makes of <paramref name="wanted"/>: dependencies may pull options in or refuse them.</summary>
    OptionSet Normalize(OptionSet wanted);

    /// <summary>Builds and boots <paramref name="config"/> (already normalized); the kernel's faults are verdicts, the host's throw.</summary>
    TrialResult Test(OptionSet config, int step);
}

/// <summary>One build and boot: Good, Bad, or Skip when the config does not configure or build; where its logs are.</summary>
public sealed record TrialResult(StepVerdict Verdict, string Message, double BuildSeconds, double BootSeconds, double TotalSeconds, string? Directory);

/// <summary>
/// One build of a search, for the report: what it applied (the options asked to change), what moved after make
/// olddefconfig (the options that did change, dependencies included), the verdict and its times.
/// </summary>
public sealed record SearchStep(
    int Number,
    string Action,
    IReadOnlyList<string> Applied,
    IReadOnlyList<OptionChange> Moved,
    StepVerdict Verdict,
    string Message,
    int EnabledOptions,
    double BuildSeconds,
    double BootSeconds,
    double TotalSeconds,
    string? Directory);
