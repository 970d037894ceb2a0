using Cake.Frosting;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;
using Kiln.Kernel.Run;

namespace Kiln.Build.Tasks;

[TaskName(KilnTargets.Run)]
[IsDependentOn(typeof(BuildKernel))]
[TaskDescription("Boot the kernel with the host's / read-only and the current directory read-write, run -- CMD ARGS… (or --exec) there as root, " +
                 "stream its output and exit with its status (1 when the guest never reported one: a panic, a hang past --timeout).")]
public sealed class RunTask : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var (output, error) = context.Output.CommandStreams;
        Finish(context, context.Pipeline.Session(context.Require(context.Built, nameof(BuildKernel)), output, error));
    }

    /// <summary>Run's and Shell's end: the command's status is Kiln's; a guest that cannot say it is exit 1, one that cannot host the session exit 2.</summary>
    internal static void Finish(BuildContext context, GuestSessionResult session)
    {
        context.Output.Set(CiKeys.SerialLog, session.SerialLogPath);
        var release = context.Require(context.Built, nameof(BuildKernel)).Kernel.Metadata.Release;
        if (session.Unsupported is { } why)
            throw KilnException.BadInput($"Linux {release} cannot host --target={context.Options.TargetName}: {why}. Serial log: {session.SerialLogPath}");
        if (session.Quit)
        {
            context.Output.Info("Left the guest with Ctrl-A X.");
            return;
        }
        if (session.ExitCode is not { } status)
            throw KilnException.KernelFailed($"Linux {release} never reported the command's exit status: {session.Failure}. Serial log: {session.SerialLogPath}");
        if (status == 127)
            throw new KilnException(status, "The command was not found in the guest (exit 127; its stderr says which)" +
                                            (session.HostRootShared ? ": it runs from the host's / with PATH=/usr/local/sbin:…:/bin." : ": the guest has only busybox."));
        if (status != 0) throw new KilnException(status, $"The command exited with status {status} in the guest.");
        context.Output.Verbose($"The command exited with status 0 in Linux {release}");
    }
}
