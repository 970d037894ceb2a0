using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.RemoteCache;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.Packaging;

/// <summary>What to package and where.</summary>
/// <param name="ImageName">The compressed kernel's name in the cache entry: bzImage (x86_64) or Image (arm64).</param>
/// <param name="PackageDirectory">Receives the ACI, OCI layout, release tarball and SHA256SUMS; emptied first.</param>
/// <param name="Stage1Template">stage1/manifest.json.in.</param>
public sealed record PackageRequest(
    CachedKernel Kernel,
    string ImageName,
    string PackageDirectory,
    string Stage1Template,
    string KataPrefix,
    string KataDestDir);

public sealed record PackageResult(
    /// <summary>Null for an arch appc names no label for (riscv64): rkt could not run it.</summary>
    AciImage? Aci,
    KataInstall Kata,
    OciImage Oci,
    string ReleaseTarball,
    string Sums,
    IReadOnlyList<string> Notes);

/// <summary>
/// Packages one cached, boot-tested kernel for every consumer: rkt (stage1-kvm ACI), Kata (install
/// layout), LinuxKit-style OCI image, and a release tarball, all covered by SHA256SUMS. Everything is
/// derived from the cache entry alone, so packaging the same build twice gives identical bytes.
/// </summary>
public static class KernelPackager
{
    public const string AnnotationPrefix = "dev.kiln.";

    public static PackageResult Package(PackageRequest request, IKilnLog log)
    {
        var outDir = request.PackageDirectory;
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.CreateDirectory(outDir);
        // Packaged from a private copy checked against metadata.json, not from the entry Setup verified: the entry
        // can change in between (a boot takes seconds), the copy cannot. It sits next to the package directory, outside SHA256SUMS.
        var verified = AtomicFile.TempPathFor(outDir);
        try
        {
            var kernel = PackageVerifier.CopyVerified(request.Kernel, verified);
            var result = Package(request, kernel, outDir, log);
            PackageVerifier.Verify(result, kernel, request.ImageName, log);
            log.Info($"Verified every packaged file against metadata.json ({request.ImageName} sha256 {kernel.Metadata.Files[request.ImageName]})");
            return result;
        }
        finally
        {
            SourceCache.DeleteDirectory(verified);
        }
    }

    private static PackageResult Package(PackageRequest request, CachedKernel kernel, string outDir, IKilnLog log)
    {
        var metadata = kernel.Metadata;
        var image = kernel.File(request.ImageName);
        var notes = new List<string>();
        var arch = Arch.Parse(metadata.Arch);

        AciImage? aci = null;
        if (arch.AciArch is null)
            notes.Add($"No stage1 ACI for {arch.Name}: appc (rkt's image format) defines no {arch.Name} arch label.");
        else
        {
            var template = File.ReadAllText(request.Stage1Template);
            var manifest = AciManifest.Render(template, new Dictionary<string, string>
            {
                ["VERSION"] = metadata.Key,
                ["KERNEL_RELEASE"] = metadata.Release,
                ["ARCH"] = arch.AciArch,
                ["IDENTITY"] = metadata.IdentityHash,
                ["SOURCE"] = $"{metadata.Source.Provider} {metadata.Source.Version}",
                ["KERNEL_SHA256"] = metadata.Files[request.ImageName],
            }, Path.GetFileName(Path.GetDirectoryName(request.Stage1Template)) + "/" + Path.GetFileName(request.Stage1Template));
            aci = AciWriter.Write(manifest, image, request.ImageName, outDir, $"stage1-kvm-{metadata.Key}-{metadata.Arch}");
            log.Info($"ACI {aci.TarPath} ({aci.ImageId[..(7 + 32)]}…), gzip'd {aci.GzipPath}");
        }

        var kata = KataLayout.Install(kernel, request.ImageName, request.KataPrefix, request.KataDestDir);
        log.Info($"Kata layout in {kata.ShareDirectory}: {string.Join(", ", kata.Files.Concat(kata.Links).Select(Path.GetFileName))}");

        var oci = OciLayout.Write(new OciImageSpec(Path.Combine(outDir, "oci"), RegistryTags.Of(metadata).ArchTag, arch.OciPlatform,
            OciContent(kernel, image, notes), OciAnnotations(metadata)));
        log.Info($"OCI layout {oci.Directory}:{oci.Tag} manifest {oci.ManifestDigest}");

        var baseName = $"kiln-linux-{metadata.Key}-{metadata.Arch}";
        var tarball = ReleaseArchive.Write(ReleaseContent(kernel, baseName), outDir, baseName, log);
        log.Info($"Release tarball {tarball}");

        var outputs = Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Concat(kata.Files);
        var sums = ReleaseArchive.WriteSums(outDir, outputs);
        foreach (var note in notes) log.Info(note);
        return new PackageResult(aci, kata, oci, tarball, sums, notes);
    }

    /// <summary>
    /// LinuxKit's kernel image layout: <c>/kernel</c>, <c>/System.map</c>, <c>/kernel-headers.tar</c> (UAPI), and
    /// with modules <c>/kernel.tar</c> (lib/modules) and <c>/kernel-dev.tar</c> (the module build kit); the notes
    /// say why a file is absent.
    /// </summary>
    private static IReadOnlyList<TarItem> OciContent(CachedKernel kernel, string image, List<string> notes)
    {
        var content = new List<TarItem>
        {
            TarItem.File("kernel", image),
            TarItem.File(EntryFiles.SystemMap, kernel.File(EntryFiles.SystemMap)),
        };
        foreach (var name in new[] { DevelopmentArtifacts.HeadersTar, DevelopmentArtifacts.ModulesTar, DevelopmentArtifacts.DevTar })
            if (kernel.Metadata.Files.ContainsKey(name)) content.Add(TarItem.File(name, kernel.File(name)));
        if (!kernel.Metadata.Files.ContainsKey(DevelopmentArtifacts.ModulesTar))
            notes.Add("OCI image: the kernel has no loadable modules (CONFIG_MODULES is off), so there is no /kernel.tar and no /kernel-dev.tar");
        return content;
    }

    private static Dictionary<string, string> OciAnnotations(BuildMetadata metadata)
    {
        var annotations = new Dictionary<string, string>
        {
            ["org.opencontainers.image.title"] = "kiln-linux",
            ["org.opencontainers.image.description"] = $"Linux {metadata.Release} guest kernel ({metadata.Arch}) built by Kiln",
            ["org.opencontainers.image.version"] = metadata.Key,
            ["org.opencontainers.image.revision"] = metadata.IdentityHash,
            [AnnotationPrefix + "kernel.release"] = metadata.Release,
            [AnnotationPrefix + "kernel.arch"] = metadata.Arch,
            [AnnotationPrefix + "kernel.variant"] = metadata.Variant,
            [AnnotationPrefix + "source.provider"] = metadata.Source.Provider,
            [AnnotationPrefix + "source.version"] = metadata.Source.Version,
            [AnnotationPrefix + "source.origin"] = metadata.Source.Origin,
            [AnnotationPrefix + "source.sha256"] = metadata.Source.Sha256,
        };
        // image.source is meant to be a URL; a local path or package stays in the dev.kiln.* annotations only.
        if (Uri.TryCreate(metadata.Source.Origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            annotations["org.opencontainers.image.source"] = metadata.Source.Origin;
        return annotations;
    }

    /// <summary>The build's artifacts and metadata.json under one top directory named like the tarball.</summary>
    private static IEnumerable<TarItem> ReleaseContent(CachedKernel kernel, string baseName)
    {
        yield return TarItem.Directory(baseName);
        foreach (var name in kernel.Metadata.Files.Keys.Append(BuildMetadata.FileName))
            yield return TarItem.File($"{baseName}/{name}", kernel.File(name));
    }
}
