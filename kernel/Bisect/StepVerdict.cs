using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Bisect;

/// <summary>What one bisect step decided about the checked-out commit.</summary>
public enum StepVerdict
{
    Good,
    Bad,
    /// <summary>The commit cannot be tested (it does not configure or build): git bisect tries a neighbour.</summary>
    Skip,
    /// <summary>The machinery failed (QEMU cannot start, bad input): stop the whole bisect.</summary>
    Abort,
}

/// <summary>The phase a step was in when it ended.</summary>
public enum StepPhase
{
    Checkout,
    Configure,
    Build,
    Boot,
}

/// <summary>git bisect run's exit code contract, and how Kiln's failures map onto it.</summary>
public static class BisectExitCodes
{
    public const int Good = 0;
    public const int Bad = 1;
    public const int Skip = 125;
    /// <summary>Any code of 128 or more makes git bisect run stop; 255 is the conventional one.</summary>
    public const int Abort = 255;

    public static int For(StepVerdict verdict) => verdict switch
    {
        StepVerdict.Good => Good,
        StepVerdict.Bad => Bad,
        StepVerdict.Skip => Skip,
        _ => Abort,
    };

    /// <summary>How git bisect run reads an exit code (0 good, 125 skip, 1–127 bad, 128+ or negative abort).</summary>
    public static StepVerdict Read(int exitCode) => exitCode switch
    {
        Good => StepVerdict.Good,
        Skip => StepVerdict.Skip,
        >= 1 and < 128 => StepVerdict.Bad,
        _ => StepVerdict.Abort,
    };

    /// <summary>
    /// A failure while configuring or building is the commit's fault (skip it: it says nothing about the
    /// boot); anything else, and any bad input or infrastructure failure, stops the bisect, because
    /// marking commits bad or skipped for a broken host would give a wrong answer.
    /// </summary>
    public static StepVerdict ForFailure(StepPhase phase, KilnException failure) =>
        failure.ExitCode == ExitCodes.KernelFailed && phase is StepPhase.Configure or StepPhase.Build
            ? StepVerdict.Skip
            : StepVerdict.Abort;
}
