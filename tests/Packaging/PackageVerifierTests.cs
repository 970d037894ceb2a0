using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Packaging;
using Kiln.Tests.Config;

namespace Kiln.Tests.Packaging;

/// <summary>Packaging trusts only the bytes it verified itself, and reads every output back against metadata.json.</summary>
[TestFixture]
public sealed class PackageVerifierTests
{
    private static string Template => Path.Combine(TestPaths.RepositoryRoot, "stage1", "manifest.json.in");

    private static PackageRequest Request(CachedKernel kernel, string outDir) =>
        new(kernel, "bzImage", Path.Combine(outDir, "package"), Template, "/usr", Path.Combine(outDir, "kata"));

    /// <summary>
    /// The cache entry's bzImage is replaced after Setup verified it (as another writer did during a boot): the package
    /// must not carry the new bytes under the recorded sha256. It fails, exit 3, naming the file; nothing is packaged.
    /// </summary>
    [Test]
    public void An_image_changed_after_verification_is_never_packaged()
    {
        using var fake = new FakeKernel();
        using var dir = new TempDirectory();
        var verified = fake.Kernel; // what Setup's lookup returned, checked then
        File.WriteAllBytes(verified.File("bzImage"), new byte[] { 0x4d, 0x5a, 1, 2, 3 });

        var e = Assert.Throws<KilnException>(() => KernelPackager.Package(Request(verified, dir.Path), new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain(verified.File("bzImage") + " changed after it was verified").And.Contain("nothing was packaged"));
        Assert.That(Directory.GetFiles(Path.Combine(dir.Path, "package"), "*", SearchOption.AllDirectories), Is.Empty);
        Assert.That(Directory.GetFileSystemEntries(dir.Path, ".package.tmp-*"), Is.Empty, "the verified copy is removed");
    }

    [Test]
    public void A_good_package_passes_the_final_check_and_leaves_no_copy_behind()
    {
        using var fake = new FakeKernel(modules: true);
        using var dir = new TempDirectory();
        var log = new RecordingLog();
        var result = KernelPackager.Package(Request(fake.Kernel, dir.Path), log);
        Assert.That(log.Lines, Has.Some.StartsWith("info: Verified every packaged file against metadata.json"));
        Assert.That(Directory.GetFileSystemEntries(dir.Path, ".package.tmp-*"), Is.Empty);
        Assert.DoesNotThrow(() => PackageVerifier.Verify(result, fake.Kernel, "bzImage", log));
    }

    /// <summary>Each kind of output, tampered with after it was written, is caught by the final check, which names it.</summary>
    [TestCase("aci")]
    [TestCase("kata")]
    [TestCase("tarball")]
    [TestCase("sums")]
    public void The_final_check_names_a_packaged_file_that_differs_from_metadata(string which)
    {
        using var fake = new FakeKernel();
        using var dir = new TempDirectory();
        var result = KernelPackager.Package(Request(fake.Kernel, dir.Path), new RecordingLog());
        var other = new FakeKernel(config: "CONFIG_OTHER=y\n");
        try
        {
            // Each output rewritten as it would be for another build: well-formed, but not these bytes.
            string named;
            switch (which)
            {
                case "aci":
                    var manifest = System.Text.Encoding.UTF8.GetString(PackageReader.ReadTar(result.Aci!.TarPath)["manifest"].Data);
                    AciWriter.Write(manifest, other.Kernel.File("config"), "bzImage",
                        Path.GetDirectoryName(result.Aci!.TarPath)!, Path.GetFileNameWithoutExtension(result.Aci!.TarPath));
                    named = result.Aci!.TarPath + " (rootfs/bzImage)";
                    break;
                case "kata":
                    File.Copy(other.Kernel.File("config"), result.Kata.Files[2], overwrite: true);
                    named = result.Kata.Files[2];
                    break;
                case "tarball":
                    const string top = "kiln-linux-6.1.192-1-x86_64";
                    var items = fake.Kernel.Metadata.Files.Keys.Where(n => n != "config").Append("metadata.json")
                        .Select(n => TarItem.File($"{top}/{n}", fake.Kernel.File(n)))
                        .Append(TarItem.File($"{top}/config", other.Kernel.File("config"))).Prepend(TarItem.Directory(top));
                    ReleaseArchive.Write(items, Path.GetDirectoryName(result.ReleaseTarball)!, top, new RecordingLog());
                    named = result.ReleaseTarball + $" ({top}/config)";
                    break;
                default:
                    File.AppendAllText(Path.Combine(Path.GetDirectoryName(result.Sums)!, "oci", "index.json"), " ");
                    named = Path.Combine(Path.GetDirectoryName(result.Sums)!, "oci", "index.json");
                    break;
            }
            var e = Assert.Throws<KilnException>(() => PackageVerifier.Verify(result, fake.Kernel, "bzImage", new RecordingLog()))!;
            Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
            Assert.That(e.Message, Does.Contain("Packaged file " + named));
        }
        finally
        {
            other.Dispose();
        }
    }
}
