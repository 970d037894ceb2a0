using Cake.Frosting;
using Kiln.Kernel.Build;
using Kiln.Kernel.IO;

namespace Kiln.Build.Tasks;

[TaskName(nameof(BuildKernel))]
[IsDependentOn(typeof(Configure))]
[TaskDescription("Build the kernel (ccache, reproducible) into --out and the local cache; a cached identical build is reused in seconds.")]
public sealed class BuildKernel : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        var acquired = context.Require(context.Acquired, nameof(Setup));
        var built = context.Built = acquired.Cached is not null
            ? context.Pipeline.Reuse(acquired)
            : context.Pipeline.Build(context.Require(context.Patched, nameof(Patch)), context.Require(context.Configured, nameof(Configure)));
        var image = EntryFiles.Image(context.Options.Arch);
        if (!built.FromCache)
            context.Output.Info($"Linux {built.Kernel.Metadata.Release}: {image} sha256 {built.Kernel.Metadata.Files[image]}, artifacts in {built.OutDir}");
        context.Output.Set(CiKeys.Release, built.Kernel.Metadata.Release);
        context.Output.Set(CiKeys.ArtifactsDir, built.OutDir);
        context.Output.Set(CiKeys.KernelImage, Path.Combine(built.OutDir, image));
        context.Output.Set(CiKeys.Metadata, Path.Combine(built.OutDir, BuildMetadata.FileName));
    }
}
