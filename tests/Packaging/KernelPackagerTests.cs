using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Packaging;
using Kiln.Tests.Config;

namespace Kiln.Tests.Packaging;

/// <summary>Packages a fake cache entry and reads every format back.</summary>
[TestFixture]
public sealed class KernelPackagerTests
{
    private static string Template => Path.Combine(TestPaths.RepositoryRoot, "stage1", "manifest.json.in");

    private static PackageResult Package(FakeKernel fake, string outDir, string prefix = "/usr") =>
        KernelPackager.Package(new PackageRequest(fake.Kernel, fake.ImageName, Path.Combine(outDir, "package"), Template, prefix,
            Path.Combine(outDir, "kata")), new RecordingLog());

    [Test]
    public void Aci_holds_the_manifest_and_the_kernel_and_its_id_is_the_sha512_of_the_tar()
    {
        using var fake = new FakeKernel();
        using var dir = new TempDirectory();
        var aci = Package(fake, dir.Path).Aci!;

        var entries = PackageReader.ReadTar(aci.TarPath);
        Assert.That(entries.Keys, Is.EqualTo(new[] { "manifest", "rootfs/", "rootfs/bzImage", "rootfs/kernel_image" }));
        Assert.That(entries["rootfs/bzImage"].Data, Is.EqualTo(File.ReadAllBytes(fake.Kernel.File("bzImage"))));
        Assert.That(entries["rootfs/kernel_image"].Type, Is.EqualTo(TarEntryType.SymbolicLink));
        Assert.That(entries["rootfs/kernel_image"].LinkName, Is.EqualTo("bzImage"));
        Assert.That(entries.Values.All(e => e.Uid == 0 && e.Gid == 0 && e.Mtime == DateTimeOffset.UnixEpoch), Is.True);

        var manifest = JsonNode.Parse(entries["manifest"].Data)!;
        Assert.That(manifest["name"]!.GetValue<string>(), Is.EqualTo("kiln.dev/stage1-kvm"));
        var labels = manifest["labels"]!.AsArray().ToDictionary(l => l!["name"]!.GetValue<string>(), l => l!["value"]!.GetValue<string>());
        Assert.That(labels["version"], Is.EqualTo("6.1.192-1"));
        Assert.That(labels["arch"], Is.EqualTo("amd64"));
        var annotations = manifest["annotations"]!.AsArray().ToDictionary(l => l!["name"]!.GetValue<string>(), l => l!["value"]!.GetValue<string>());
        Assert.That(annotations["kiln.dev/kernel/sha256"], Is.EqualTo(fake.Kernel.Metadata.Files["bzImage"]));

        var expectedId = "sha512-" + Convert.ToHexStringLower(SHA512.HashData(File.ReadAllBytes(aci.TarPath)));
        Assert.That(aci.ImageId, Is.EqualTo(expectedId));
        Assert.That(File.ReadAllText(aci.IdPath).Trim(), Is.EqualTo(expectedId));
        Assert.That(PackageReader.ReadGzipTar(aci.GzipPath).Keys, Is.EqualTo(entries.Keys));
    }

    [Test]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Kata_layout_uses_kata_names_and_links()
    {
        using var fake = new FakeKernel();
        using var dir = new TempDirectory();
        var kata = Package(fake, dir.Path, "/opt/kata").Kata;

        var share = Path.Combine(dir.Path, "kata", "opt", "kata", "share", "kata-containers");
        Assert.That(kata.ShareDirectory, Is.EqualTo(share));
        Assert.That(File.ReadAllBytes(Path.Combine(share, "vmlinuz-6.1.192-1")), Is.EqualTo(File.ReadAllBytes(fake.Kernel.File("bzImage"))));
        Assert.That(File.ReadAllBytes(Path.Combine(share, "vmlinux-6.1.192-1")), Is.EqualTo(File.ReadAllBytes(fake.Kernel.File("vmlinux"))));
        Assert.That(File.Exists(Path.Combine(share, "config-6.1.192-1")), Is.True);
        Assert.That(new FileInfo(Path.Combine(share, "vmlinuz.container")).LinkTarget, Is.EqualTo("vmlinuz-6.1.192-1"));
        Assert.That(new FileInfo(Path.Combine(share, "vmlinux.container")).LinkTarget, Is.EqualTo("vmlinux-6.1.192-1"));
        Assert.That(File.GetUnixFileMode(Path.Combine(share, "vmlinuz-6.1.192-1")), Is.EqualTo(Permissions.File));
    }

    [Test]
    public void Kata_layout_of_a_variant_carries_its_suffix()
    {
        using var fake = new FakeKernel(variant: "dbg");
        using var dir = new TempDirectory();
        var kata = Package(fake, dir.Path).Kata;
        Assert.That(kata.Files.Select(Path.GetFileName), Is.EqualTo(new[] { "vmlinuz-6.1.192-1-dbg", "vmlinux-6.1.192-1-dbg", "config-6.1.192-1-dbg" }));
        Assert.That(kata.Links.Select(Path.GetFileName), Is.EqualTo(new[] { "vmlinuz-dbg.container", "vmlinux-dbg.container" }));
        Assert.That(new FileInfo(kata.Links[0]).LinkTarget, Is.EqualTo("vmlinuz-6.1.192-1-dbg"));
    }

    [Test]
    public void A_relative_prefix_is_bad_input()
    {
        using var fake = new FakeKernel();
        using var dir = new TempDirectory();
        var e = Assert.Throws<KilnException>(() => Package(fake, dir.Path, "usr"))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("--prefix=usr"));
    }

    [Test]
    public void Oci_layout_digests_and_sizes_match_its_blobs()
    {
        using var fake = new FakeKernel();
        using var dir = new TempDirectory();
        var result = Package(fake, dir.Path);
        var oci = result.Oci;

        Assert.That(JsonNode.Parse(File.ReadAllText(Path.Combine(oci.Directory, "oci-layout")))!["imageLayoutVersion"]!.GetValue<string>(), Is.EqualTo("1.0.0"));
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(oci.Directory, "index.json")))!;
        var entry = index["manifests"]!.AsArray().Single()!;
        Assert.That(entry["annotations"]!["org.opencontainers.image.ref.name"]!.GetValue<string>(), Is.EqualTo("6.1.192-1-amd64"));
        Assert.That(entry["platform"]!.ToJsonString(), Is.EqualTo("""{"architecture":"amd64","os":"linux"}"""), "x86_64 has no variant");

        void AssertDescribes(JsonNode descriptor)
        {
            var blob = OciLayout.BlobPath(oci.Directory, descriptor["digest"]!.GetValue<string>());
            Assert.That(new FileInfo(blob).Length, Is.EqualTo(descriptor["size"]!.GetValue<long>()));
            Assert.That("sha256:" + PackageReader.Sha256(blob), Is.EqualTo(descriptor["digest"]!.GetValue<string>()));
        }
        AssertDescribes(entry);
        Assert.That(entry["digest"]!.GetValue<string>(), Is.EqualTo(oci.ManifestDigest));
        var manifest = PackageReader.Blob(oci.Directory, oci.ManifestDigest);
        AssertDescribes(manifest["config"]!);
        var layer = manifest["layers"]!.AsArray().Single()!;
        AssertDescribes(layer);
        Assert.That(layer["mediaType"]!.GetValue<string>(), Is.EqualTo(OciLayout.LayerMediaType));

        var annotations = manifest["annotations"]!;
        Assert.That(annotations["org.opencontainers.image.version"]!.GetValue<string>(), Is.EqualTo("6.1.192-1"));
        Assert.That(annotations["org.opencontainers.image.revision"]!.GetValue<string>(), Is.EqualTo(fake.Kernel.Metadata.IdentityHash));
        Assert.That(annotations["dev.kiln.source.provider"]!.GetValue<string>(), Is.EqualTo("debian:linux-source-6.1"));
        Assert.That(annotations["org.opencontainers.image.source"], Is.Null, "a local path is not a source URL");

        var config = PackageReader.Blob(oci.Directory, manifest["config"]!["digest"]!.GetValue<string>());
        Assert.That(config["os"]!.GetValue<string>(), Is.EqualTo("linux"));
        var layerBlob = OciLayout.BlobPath(oci.Directory, layer["digest"]!.GetValue<string>());
        using (var gzip = new System.IO.Compression.GZipStream(File.OpenRead(layerBlob), System.IO.Compression.CompressionMode.Decompress))
            Assert.That(config["rootfs"]!["diff_ids"]![0]!.GetValue<string>(), Is.EqualTo("sha256:" + Convert.ToHexStringLower(SHA256.HashData(gzip))));

        var files = PackageReader.ReadGzipTar(layerBlob);
        Assert.That(files.Keys, Is.EqualTo(new[] { "System.map", "kernel", "kernel-headers.tar" }), "no modules: no kernel.tar, no kernel-dev.tar");
        Assert.That(files["kernel"].Data, Is.EqualTo(File.ReadAllBytes(fake.Kernel.File("bzImage"))));
        Assert.That(files["kernel-headers.tar"].Data, Is.EqualTo(File.ReadAllBytes(fake.Kernel.File("kernel-headers.tar"))));
        Assert.That(result.Notes, Has.Some.Contains("no /kernel.tar"));
    }

    [Test]
    public void Oci_image_of_an_arm64_kernel_is_tagged_and_platformed_as_arm64_v8()
    {
        using var fake = new FakeKernel(arch: "arm64");
        using var dir = new TempDirectory();
        var oci = Package(fake, dir.Path).Oci;

        Assert.That(oci.Tag, Is.EqualTo("6.1.192-1-arm64"));
        var entry = JsonNode.Parse(File.ReadAllText(Path.Combine(oci.Directory, "index.json")))!["manifests"]!.AsArray().Single()!;
        Assert.That(entry["platform"]!.ToJsonString(), Is.EqualTo("""{"architecture":"arm64","os":"linux","variant":"v8"}"""));
        var manifest = PackageReader.Blob(oci.Directory, oci.ManifestDigest);
        var config = PackageReader.Blob(oci.Directory, manifest["config"]!["digest"]!.GetValue<string>());
        Assert.That((config["architecture"]!.GetValue<string>(), config["os"]!.GetValue<string>(), config["variant"]!.GetValue<string>()),
            Is.EqualTo(("arm64", "linux", "v8")));
        var layer = PackageReader.ReadGzipTar(OciLayout.BlobPath(oci.Directory, manifest["layers"]![0]!["digest"]!.GetValue<string>()));
        Assert.That(layer["kernel"].Data, Is.EqualTo(File.ReadAllBytes(fake.Kernel.File("Image"))));
    }

    [Test]
    public void Oci_image_of_a_clang_kernel_has_the_clang_tag_so_it_never_replaces_the_gcc_image()
    {
        using var clang = new FakeKernel(arch: "arm64", toolchain: "clang");
        using var gcc = new FakeKernel(arch: "arm64", toolchain: "gcc");
        using var dir = new TempDirectory();

        Assert.That(Package(clang, Path.Combine(dir.Path, "clang")).Oci.Tag, Is.EqualTo("6.1.192-1-clang-arm64"));
        var gccImage = Package(gcc, Path.Combine(dir.Path, "gcc")).Oci;
        Assert.That(gccImage.Tag, Is.EqualTo("6.1.192-1-arm64"));
        var refName = JsonNode.Parse(File.ReadAllText(Path.Combine(gccImage.Directory, "index.json")))!["manifests"]![0]!["annotations"]![OciLayout.RefNameAnnotation];
        Assert.That(refName!.GetValue<string>(), Is.EqualTo("6.1.192-1-arm64"), "the layout's ref name is the tag --push uses");
    }

    [Test]
    public void Aci_and_kata_layout_of_an_arm64_kernel_name_the_arch_as_appc_and_kata_do()
    {
        using var fake = new FakeKernel(arch: "arm64");
        using var dir = new TempDirectory();
        var result = Package(fake, dir.Path);

        var manifest = JsonNode.Parse(PackageReader.ReadTar(result.Aci!.TarPath)["manifest"].Data)!;
        var labels = manifest["labels"]!.AsArray().ToDictionary(l => l!["name"]!.GetValue<string>(), l => l!["value"]!.GetValue<string>());
        Assert.That(labels["arch"], Is.EqualTo("aarch64"), "appc's arch label for arm64");
        Assert.That(PackageReader.ReadTar(result.Aci!.TarPath)["rootfs/kernel_image"].LinkName, Is.EqualTo("Image"));
        // Kata's build-kernel.sh installs vmlinuz-<version>-<config version> with no arch in the name, for every arch.
        Assert.That(result.Kata.Files.Select(Path.GetFileName), Is.EqualTo(new[] { "vmlinuz-6.1.192-1", "vmlinux-6.1.192-1", "config-6.1.192-1" }));
        Assert.That(File.ReadAllBytes(result.Kata.Files[0]), Is.EqualTo(File.ReadAllBytes(fake.Kernel.File("Image"))));
    }

    [Test]
    public void Oci_image_of_a_kernel_with_modules_carries_kernel_tar_and_kernel_dev_tar()
    {
        using var fake = new FakeKernel(modules: true);
        using var dir = new TempDirectory();
        var result = Package(fake, dir.Path);
        var manifest = PackageReader.Blob(result.Oci.Directory, result.Oci.ManifestDigest);
        var layer = OciLayout.BlobPath(result.Oci.Directory, manifest["layers"]![0]!["digest"]!.GetValue<string>());
        var files = PackageReader.ReadGzipTar(layer);
        Assert.That(files.Keys, Is.EqualTo(new[] { "System.map", "kernel", "kernel-dev.tar", "kernel-headers.tar", "kernel.tar" }));
        Assert.That(files["kernel.tar"].Data, Is.EqualTo(File.ReadAllBytes(fake.Kernel.File("kernel.tar"))));
        Assert.That(result.Notes, Has.None.Contains("kernel.tar"));
    }

    [Test]
    public void Verify_rejects_a_blob_that_does_not_match_its_digest()
    {
        using var fake = new FakeKernel();
        using var dir = new TempDirectory();
        var oci = Package(fake, dir.Path).Oci;
        File.AppendAllText(OciLayout.BlobPath(oci.Directory, oci.ConfigDigest), " ");
        var e = Assert.Throws<KilnException>(() => OciLayout.Verify(oci.Directory))!;
        Assert.That(e.Message, Does.Contain("manifest config: size"));
    }

    [Test]
    public void Release_tarball_holds_the_build_and_SHA256SUMS_covers_every_output()
    {
        using var fake = new FakeKernel();
        using var dir = new TempDirectory();
        var result = Package(fake, dir.Path);

        Assert.That(Path.GetFileName(result.ReleaseTarball), Is.EqualTo("kiln-linux-6.1.192-1-x86_64.tar.zst"));
        var entries = PackageReader.ReadCompressedTar(result.ReleaseTarball);
        const string top = "kiln-linux-6.1.192-1-x86_64/";
        Assert.That(entries.Keys, Is.EqualTo(new[] { top, top + "System.map", top + "bzImage", top + "config", top + "kernel-headers.tar", top + "metadata.json", top + "vmlinux" }));
        Assert.That(entries[top + "vmlinux"].Data, Is.EqualTo(File.ReadAllBytes(fake.Kernel.File("vmlinux"))));

        var packageDir = Path.GetDirectoryName(result.Sums)!;
        var sums = File.ReadAllLines(result.Sums).Select(l => l.Split("  ", 2)).ToDictionary(p => p[1], p => p[0]);
        foreach (var (name, sha) in sums)
            Assert.That(PackageReader.Sha256(Path.GetFullPath(Path.Combine(packageDir, name))), Is.EqualTo(sha), name);
        var expected = Directory.GetFiles(packageDir, "*", SearchOption.AllDirectories).Where(f => f != result.Sums)
            .Select(f => Path.GetRelativePath(packageDir, f))
            .Concat(new[] { "vmlinuz-6.1.192-1", "vmlinux-6.1.192-1", "config-6.1.192-1" }.Select(n => "../kata/usr/share/kata-containers/" + n));
        Assert.That(sums.Keys, Is.EquivalentTo(expected));
    }

    [Test]
    public void Packaging_the_same_build_twice_gives_identical_bytes()
    {
        using var fake = new FakeKernel();
        using var first = new TempDirectory();
        using var second = new TempDirectory();
        Package(fake, first.Path);
        Package(fake, second.Path);
        var a = PackageReader.Fingerprint(first.Path);
        Assert.That(a, Has.Count.GreaterThan(10));
        Assert.That(PackageReader.Fingerprint(second.Path), Is.EqualTo(a));
    }

    [Test]
    public void Repackaging_into_the_same_directory_replaces_the_previous_outputs()
    {
        using var fake = new FakeKernel();
        using var dir = new TempDirectory();
        Package(fake, dir.Path);
        var before = PackageReader.Fingerprint(dir.Path);
        File.WriteAllText(Path.Combine(dir.Path, "package", "stale.txt"), "left from an older run");
        Package(fake, dir.Path);
        Assert.That(PackageReader.Fingerprint(dir.Path), Is.EqualTo(before));
    }

    [Test]
    public void Tar_entries_are_sorted_and_owned_by_root_whatever_the_input_order()
    {
        var bytes = Encoding.UTF8.GetBytes("x");
        using var one = new MemoryStream();
        using var two = new MemoryStream();
        DeterministicTar.Write(one, new[] { TarItem.Bytes("b", bytes), TarItem.Directory("a"), TarItem.Bytes("a/c", bytes) });
        DeterministicTar.Write(two, new[] { TarItem.Bytes("a/c", bytes), TarItem.Bytes("b", bytes), TarItem.Directory("a") });
        Assert.That(one.ToArray(), Is.EqualTo(two.ToArray()));
        one.Position = 0;
        Assert.That(PackageReader.ReadTar(one).Keys, Is.EqualTo(new[] { "a/", "a/c", "b" }));
        Assert.Throws<ArgumentException>(() => DeterministicTar.Write(new MemoryStream(), new[] { TarItem.Bytes("b", bytes), TarItem.Bytes("b", bytes) }));
    }
}
