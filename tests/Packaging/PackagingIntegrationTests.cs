using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Packaging;
using Kiln.Kernel.Processes;
using Kiln.Kernel.RemoteCache;
using Kiln.Tests.Integration;
using Kiln.Tests.RemoteCache;

namespace Kiln.Tests.Packaging;

/// <summary>
/// Packaging the shared 6.1 kernel as users do (PackageStage1 from a cached build), checked with skopeo
/// and pushed to Debian's docker-registry on a free loopback port.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class PackagingIntegrationTests
{
    private static string NewOutDir() => Path.Combine(Path.GetTempPath(), "kiln-test-out-" + Guid.NewGuid().ToString("N")[..8]);

    [Test]
    public void PackageStage1_packages_the_cached_boot_tested_kernel_in_seconds()
    {
        _ = SharedKernel.OutDir;
        var outDir = NewOutDir();
        var run = KilnRun.Run(new[] { "--target=PackageStage1", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir });
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain($"PASS: Linux {KilnRun.Key61}"));
        Assert.That(run.Duration, Is.LessThan(TimeSpan.FromSeconds(60)), "a cached build must package without rebuilding");

        var package = Path.Combine(outDir, "package");
        var aci = Path.Combine(package, $"stage1-kvm-{KilnRun.Key61}-x86_64.aci");
        var bzImage = File.ReadAllBytes(SharedKernel.BzImage);
        Assert.That(PackageReader.ReadTar(aci)["rootfs/bzImage"].Data, Is.EqualTo(bzImage), "the ACI's kernel is the one that was built and booted");
        Assert.That(File.ReadAllText(aci + ".id").Trim(), Is.EqualTo(AciWriter.ImageIdOf(aci)));
        Assert.That(File.ReadAllBytes(Path.Combine(outDir, "kata", "usr", "share", "kata-containers", "vmlinuz.container")), Is.EqualTo(bzImage));
        Assert.That(File.Exists(Path.Combine(package, $"kiln-linux-{KilnRun.Key61}-x86_64.tar.zst")), Is.True);
        OciLayout.Verify(Path.Combine(package, "oci"));
        Assert.That(run.Output, Does.Contain("skopeo inspect oci:"));

        var sums = new Command("sha256sum", "-c", "--strict", "SHA256SUMS") { WorkingDirectory = package }.Run(new RecordingLog());
        Assert.That(sums.StandardOutput, Does.Contain($"kiln-linux-{KilnRun.Key61}-x86_64.tar.zst: OK"));
    }

    [Test]
    public void Packaging_the_real_kernel_twice_gives_identical_bytes()
    {
        var kernel = SharedCachedKernel();
        var runs = new[] { NewOutDir(), NewOutDir() }.Select(dir =>
        {
            KernelPackager.Package(Request(kernel, dir), new RecordingLog());
            return PackageReader.Fingerprint(dir);
        }).ToList();
        Assert.That(runs[1], Is.EqualTo(runs[0]));
    }

    [Test]
    public void Skopeo_reads_the_layout_and_the_image_Kiln_pushed_to_a_local_registry()
    {
        var outDir = NewOutDir();
        var result = KernelPackager.Package(Request(SharedCachedKernel(), outDir), new RecordingLog());
        var skopeo = new Skopeo(new RecordingLog());
        var oci = $"oci:{result.Oci.Directory}:{result.Oci.Tag}";

        var local = skopeo.Inspect(oci);
        Assert.That(local.Digest, Is.EqualTo(result.Oci.ManifestDigest));
        Assert.That((local.Os, local.Architecture), Is.EqualTo(("linux", "amd64")));
        Assert.That(local.Layers, Is.EqualTo(new[] { result.Oci.LayerDigest }));
        Assert.That(local.Labels["org.opencontainers.image.version"], Is.EqualTo(KilnRun.Key61));

        using var registry = LocalRegistry.Start();
        var repository = RegistryReference.ParsePush(registry.Address("kiln/kernel"), plainHttp: true);
        using (var client = new OciRegistryClient(repository))
            OciImagePush.PushAsync(result.Oci, KilnRun.Key61, repository, client).GetAwaiter().GetResult();
        var pushed = skopeo.Inspect($"docker://{repository}:{result.Oci.Tag}", tlsVerify: false);
        Assert.That(pushed.Digest, Is.EqualTo(result.Oci.ManifestDigest), "the registry serves the exact manifest Kiln wrote");
        Assert.That(pushed.Labels["org.opencontainers.image.revision"], Is.EqualTo(SharedCachedKernel().Metadata.IdentityHash));
    }

    private static CachedKernel SharedCachedKernel() =>
        new(SharedKernel.OutDir, BuildMetadata.Read(Path.Combine(SharedKernel.OutDir, BuildMetadata.FileName))!);

    private static PackageRequest Request(CachedKernel kernel, string outDir) =>
        new(kernel, "bzImage", Path.Combine(outDir, "package"), Path.Combine(KilnRun.RepoRoot, "stage1", "manifest.json.in"), "/usr", Path.Combine(outDir, "kata"));
}
