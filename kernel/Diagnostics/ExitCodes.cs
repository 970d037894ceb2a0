namespace Kiln.Kernel.Diagnostics;

/// <summary>The exit codes every Kiln target documents (see README).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The kernel failed: build error, boot failure, failed check or test.</summary>
    public const int KernelFailed = 1;
    /// <summary>Bad input or a missing prerequisite; the message says what to do.</summary>
    public const int BadInput = 2;
    /// <summary>Infrastructure failure: network, mirror, QEMU could not start.</summary>
    public const int Infrastructure = 3;
}
