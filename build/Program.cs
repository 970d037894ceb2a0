using Kiln.Build;
using Kiln.Build.Hosting;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

return new KilnHost()
    .UseContext<BuildContext>()
    .UseDescription("Kiln bakes, boots, packages and bisects Linux guest kernels.")
    .UseDefaultTarget(nameof(Kiln.Build.Tasks.BootTest))
    .UseArguments(BuildArguments.All, restArgument: BuildArguments.Rest)
    .UseExitCodes(ExitCodes.For, e => e is KilnException, ExitCodes.InternalError)
    .UseErrorTranslation(EnvironmentFailure.Translate)
    // TERM, INT and HUP stop QEMU, make and containers before Kiln exits with 128 + the signal's number.
    .UseInterruptHandling(ChildProcesses.ExitOnInterrupt)
    .Run(args);
