using Cake.Frosting;
using Kiln.Kernel.Pipeline;

namespace Kiln.Build.Tasks;

[TaskName(KilnTargets.Shell)]
[IsDependentOn(typeof(BuildKernel))]
[TaskDescription("Boot the kernel with the host's / read-only and the current directory read-write and open a root shell on this terminal; " +
                 "leave with exit or Ctrl-A X. Needs an interactive terminal.")]
public sealed class ShellTask : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        // The shell has the terminal itself; these streams stay unused.
        var (output, error) = context.Output.CommandStreams;
        RunTask.Finish(context, context.Pipeline.Session(context.Require(context.Built, nameof(BuildKernel)), output, error));
    }
}
