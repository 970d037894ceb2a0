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
        context.CiOutput.Set(CiKeys.PackageDir, context.Target.Paths.Package);
        context.CiOutput.Set(CiKeys.ReleaseTarball, result.ReleaseTarball);
        context.CiOutput.Set(CiKeys.Sha256Sums, result.Sums);
        context.CiOutput.Set(CiKeys.Aci, result.Aci.TarPath);
        context.CiOutput.Set(CiKeys.OciLayout, packaged.OciReference);
        context.Log.Info($"Packaged Linux {kernel.Metadata.Release} (the kernel BootTest passed, sha256 {kernel.Metadata.Files[EntryFiles.Image(context.Options.Arch)]}):");
        context.Log.Info($"  stage1 ACI   {result.Aci.TarPath} (+ .gz), image ID in {result.Aci.IdPath}");
        context.Log.Info($"  Kata layout  {result.Kata.ShareDirectory}");
        context.Log.Info($"  OCI image    {packaged.OciReference}");
        context.Log.Info($"  release      {result.ReleaseTarball}");
        context.Log.Info($"  checksums    {result.Sums}");
    }
}
