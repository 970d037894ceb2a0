namespace Kiln.Kernel.Diagnostics;

/// <summary>
/// An expected failure with a message written for the user and the exit code it maps to.
/// The host prints only the message (no stack trace) unless diagnostic verbosity is on.
/// </summary>
public class KilnException : Exception
{
    public KilnException(int exitCode, string message, Exception? inner = null) : base(message, inner)
    {
        ExitCode = exitCode;
    }

    public int ExitCode { get; }

    public static KilnException BadInput(string message) => new(ExitCodes.BadInput, message);
    public static KilnException KernelFailed(string message) => new(ExitCodes.KernelFailed, message);
    public static KilnException Infrastructure(string message, Exception? inner = null) => new(ExitCodes.Infrastructure, message, inner);
}
