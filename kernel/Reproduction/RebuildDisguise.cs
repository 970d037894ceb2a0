using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Reproduction;

/// <summary>
/// What the rebuild changes about the machine, so a build that reads any of them differs: another user (uid
/// <paramref name="Uid"/>, seen through a user namespace), another host name (a UTS namespace) and a clock
/// <paramref name="ClockOffset"/> ahead (libfaketime, which shifts file times by as much, so make still sees the same order).
/// User namespaces keep file access the invoker's own: the rebuild reads and writes the private cache directory as the
/// invoker does, and no file needs another owner.
/// </summary>
public sealed record RebuildDisguise(int Uid, string HostName, string ClockOffset)
{
    /// <summary>nobody, unless that is who runs Kiln.</summary>
    public static RebuildDisguise For(uint invoker) =>
        new(invoker == Nobody ? Nobody - 1 : Nobody, "kiln-reproduce-" + Guid.NewGuid().ToString("N")[..6], "+1096d");

    private const int Nobody = 65534;

    /// <summary>
    /// The outer namespace is the invoker as root, which may set the host name; the inner one maps the invoker to
    /// <see cref="Uid"/> and execs faketime, which execs the command. Each is an exec, so the command keeps its
    /// process (and the parent-death signal Kiln gives every child).
    /// </summary>
    private const string Script = "hostname \"$1\" && uid=\"$2\" && clock=\"$3\" && shift 3 && " +
                                  "exec unshare --user --map-user=\"$uid\" --map-group=\"$uid\" -- faketime -f \"$clock\" \"$@\"";

    public Command Wrap(Command command)
    {
        var wrapped = new Command("unshare", new[] { "--user", "--map-root-user", "--uts", "--", "sh", "-c", Script, "kiln-reproduce",
            HostName, Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), ClockOffset, command.FileName }.Concat(command.Arguments).ToArray())
        {
            WorkingDirectory = command.WorkingDirectory,
            OnOutput = command.OnOutput,
            OnError = command.OnError,
            CaptureOutput = command.CaptureOutput,
            AcceptedExitCodes = command.AcceptedExitCodes,
            Purpose = command.Purpose,
            StandardInput = command.StandardInput,
        };
        foreach (var (k, v) in command.Environment) wrapped.Environment[k] = v;
        // A faked monotonic clock can stall programs that time out on it (make's jobserver, ld's threads); builds never embed it.
        wrapped.Environment["FAKETIME_DONT_FAKE_MONOTONIC"] = "1";
        return wrapped;
    }

    /// <summary>Proves the disguise works here before an hour of compiling depends on it: user, host name and year as the rebuild sees them.</summary>
    public string Probe(IKilnLog log)
    {
        try
        {
            return Wrap(new Command("sh", "-c", "echo \"$(id -u) $(hostname) $(date -u +%Y-%m-%d)\"") { Purpose = "Probe the rebuild's user, host name and clock" })
                .Run(log).StandardOutput.Trim();
        }
        catch (CommandFailedException e)
        {
            throw KilnException.Infrastructure(
                "Reproduce cannot give the rebuild another user, host name and clock on this machine (unshare --user --uts, then faketime): " +
                $"{e.Message}. User namespaces must be allowed (sysctl user.max_user_namespaces > 0; in a container, --security-opt seccomp=unconfined or a privileged one).", e);
        }
    }
}
