using Cake.Frosting;
using Kiln.Build;
using Kiln.Kernel.Diagnostics;

return new CakeHost()
    .UseContext<BuildContext>()
    .UseDescription("Kiln bakes, boots, packages and bisects Linux guest kernels.")
    .UseDefaultTarget(nameof(Kiln.Build.Tasks.BootTest))
    .UseArguments(BuildArguments.All)
    .UseExitCodes(e => (e as KilnException)?.ExitCode, e => e is KilnException)
    .Run(args);
