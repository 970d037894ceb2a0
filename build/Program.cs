using Kiln.Build;
using Kiln.Build.Hosting;
using Kiln.Kernel.Diagnostics;

return new KilnHost()
    .UseContext<BuildContext>()
    .UseDescription("Kiln bakes, boots, packages and bisects Linux guest kernels.")
    .UseDefaultTarget(nameof(Kiln.Build.Tasks.BootTest))
    .UseArguments(BuildArguments.All)
    .UseExitCodes(ExitCodes.For, e => e is KilnException, ExitCodes.InternalError)
    .UseErrorTranslation(EnvironmentFailure.Translate)
    .Run(args);
