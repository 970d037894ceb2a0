using Cake.Frosting;
using Kiln.Build;
using Kiln.Kernel.Diagnostics;

return new CakeHost()
    .UseContext<BuildContext>()
    .UseDescription("Kiln bakes, boots, packages and bisects Linux guest kernels.")
    .UseDefaultTarget(nameof(Kiln.Build.Tasks.BootTest))
    .UseArguments(BuildArguments.All)
    .UseExitCodes(e => (e as KilnException)?.ExitCode, e => e is KilnException)
    .UseErrorTranslation(e => e is not KilnException && DiskFull.Is(e) ? DiskFull.Explain(e) : e)
    .Run(args);
