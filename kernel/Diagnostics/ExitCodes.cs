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
    /// <summary>A bug in Kiln: an exception nobody anticipated (sysexits' EX_SOFTWARE); reported with its stack trace.</summary>
    public const int InternalError = 70;

    /// <summary>
    /// Exceptions the machine or network causes (I/O, permissions, sockets, HTTP, time-outs, unreadable data) count as
    /// infrastructure even where no code wrapped them in a KilnException; anything else unexpected is an internal error.
    /// </summary>
    public static bool IsEnvironmental(Exception e) =>
        e is IOException or UnauthorizedAccessException or System.Net.Http.HttpRequestException or System.Net.Sockets.SocketException
            or TimeoutException or System.ComponentModel.Win32Exception or InvalidDataException or System.Text.Json.JsonException;

    /// <summary>The exit code of a failure: a KilnException's own, 3 for the environment's, null for a bug.</summary>
    public static int? For(Exception e) =>
        e is KilnException k ? k.ExitCode : IsEnvironmental(e) ? Infrastructure : null;
}
