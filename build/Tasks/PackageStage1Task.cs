using Cake.Frosting;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Packaging;

namespace Kiln.Build.Tasks;

[TaskName(nameof(PackageStage1))]
[IsDependentOn(typeof(BootTest))]
[TaskDescription("Package the boot-tested kernel: rkt stage1-kvm ACI, Kata install layout, OCI image (skopeo-checked, --push), release tarball, SHA256SUMS.")]
public sealed class PackageStage1 : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        // BootTest ran first, on this same cache entry: what is packaged is the kernel that passed.
        var kernel = context.Require(context.Kernel, nameof(BuildKernel));
        var result = KernelPackager.Package(new PackageRequest(
            kernel,
            context.Toolchain.ImageName,
            Path.Combine(context.OutDir, "package"),
            Path.Combine(context.RepoRoot, "stage1", "manifest.json.in"),
            context.KataPrefix,
            context.KataDestDir), context.Log);

        var oci = $"oci:{result.Oci.Directory}:{result.Oci.Tag}";
        if (Skopeo.IsInstalled)
        {
            var skopeo = new Skopeo(context.Log);
            var inspected = skopeo.Inspect(oci);
            if (inspected.Digest != result.Oci.ManifestDigest)
                throw KilnException.KernelFailed($"skopeo inspect {oci} reports {inspected.Digest}, but the layout's manifest is {result.Oci.ManifestDigest}");
            context.Log.Info($"skopeo inspect {oci}: {inspected.Os}/{inspected.Architecture}, {inspected.Layers.Count} layer, digest {inspected.Digest}");
            if (context.PushRepository is { } repository)
            {
                var destination = (repository.Contains("://", StringComparison.Ordinal) ? repository : "docker://" + repository) + ":" + result.Oci.Tag;
                skopeo.Copy(oci, destination, destinationTlsVerify: !context.PushInsecure);
                var pushed = skopeo.Inspect(destination, tlsVerify: !context.PushInsecure);
                if (pushed.Digest != result.Oci.ManifestDigest)
                    throw KilnException.Infrastructure($"{destination} has digest {pushed.Digest} after the push, expected {result.Oci.ManifestDigest}");
                context.Log.Info($"Pushed {destination} ({pushed.Digest})");
            }
        }
        else if (context.PushRepository is not null)
            throw KilnException.BadInput("--push needs skopeo: apt-get install skopeo.");
        else
            context.Log.Warning("skopeo is not installed (apt-get install skopeo): the OCI layout was checked by Kiln only, not by skopeo inspect");

        context.CiOutput.Set(CiKeys.PackageDir, Path.Combine(context.OutDir, "package"));
        context.CiOutput.Set(CiKeys.ReleaseTarball, result.ReleaseTarball);
        context.CiOutput.Set(CiKeys.Sha256Sums, result.Sums);
        context.CiOutput.Set(CiKeys.Aci, result.Aci.TarPath);
        context.CiOutput.Set(CiKeys.OciLayout, oci);
        context.Log.Info($"Packaged Linux {kernel.Metadata.Release} (the kernel BootTest passed, sha256 {kernel.Metadata.Files[context.Toolchain.ImageName]}):");
        context.Log.Info($"  stage1 ACI   {result.Aci.TarPath} (+ .gz), image ID in {result.Aci.IdPath}");
        context.Log.Info($"  Kata layout  {result.Kata.ShareDirectory}");
        context.Log.Info($"  OCI image    {oci}");
        context.Log.Info($"  release      {result.ReleaseTarball}");
        context.Log.Info($"  checksums    {result.Sums}");
    }
}
