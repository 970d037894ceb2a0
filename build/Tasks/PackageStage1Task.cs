using Cake.Frosting;
using Kiln.Kernel.IO;

namespace Kiln.Build.Tasks;

[TaskName(nameof(PackageStage1))]
[IsDependentOn(typeof(BootTest))]
[TaskDescription("Package the boot-tested kernel: rkt stage1-kvm ACI, Kata install layout, OCI image (skopeo-checked, --push), release tarball, SHA256SUMS.")]
public sealed class PackageStage1 : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        // BootTest ran first, on this same cache entry: what is packaged is the kernel that passed.
        var packaged = context.Pipeline.Package(context.Require(context.Booted, nameof(BootTest)));
        var (result, kernel) = (packaged.Result, packaged.Booted.Built.Kernel);
        context.Output.Set(CiKeys.PackageDir, context.Target.Paths.Package);
        context.Output.Set(CiKeys.ReleaseTarball, result.ReleaseTarball);
        context.Output.Set(CiKeys.Sha256Sums, result.Sums);
        if (result.Aci is { } aci) context.Output.Set(CiKeys.Aci, aci.TarPath);
        context.Output.Set(CiKeys.OciLayout, packaged.OciReference);
        context.Output.Info($"Packaged Linux {kernel.Metadata.Release} (the kernel BootTest passed, sha256 {kernel.Metadata.Files[EntryFiles.Image(context.Options.Arch)]}):");
        context.Output.Info(result.Aci is { } written
            ? $"  stage1 ACI   {written.TarPath} (+ .gz), image ID in {written.IdPath}"
            : $"  stage1 ACI   none: appc defines no {context.Options.Arch.Name} arch");
        context.Output.Info($"  Kata layout  {result.Kata.ShareDirectory}");
        context.Output.Info($"  OCI image    {packaged.OciReference}");
        if (packaged.Pushed is { } pushed)
            context.Output.Info($"  pushed       {pushed.ArchReference}, in the multi-arch index {pushed.IndexReference}");
        context.Output.Info($"  release      {result.ReleaseTarball}");
        context.Output.Info($"  checksums    {result.Sums}");
    }
}
