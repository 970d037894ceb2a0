using System.Formats.Tar;
using System.Text.Json.Nodes;
using Kiln.Kernel.Packaging;
using Kiln.Kernel.Processes;
using Kiln.Tests.Packaging;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Tests.Integration;

/// <summary>
/// A kernel with loadable modules, built, booted and packaged by the real pipeline: its OCI image must
/// carry /kernel.tar with the module and /kernel-dev.tar with a kit that really builds an out-of-tree
/// module, as LinuxKit's images do. The config is the shared kernel's plus CONFIG_MODULES and one module.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class ModulesBuildTests
{
    private static readonly string Release = KilnRun.Key61;

    [Test]
    public void A_modules_kernel_packages_its_modules_and_a_kit_that_builds_an_external_module()
    {
        var work = Directory.CreateTempSubdirectory("kiln-modules-").FullName;
        var baseConfig = Path.Combine(work, "modules.config");
        File.WriteAllText(baseConfig, File.ReadAllText(Path.Combine(SharedKernel.OutDir, "config")) + "CONFIG_MODULES=y\nCONFIG_CRC_ITU_T=m\n");
        var outDir = Path.Combine(work, "out");

        var run = KilnRun.Run(new[] { "--target=PackageStage1", "--kernel=6.1", "--base-config=" + baseConfig,
            "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir });
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain("PASS: Linux " + Release));

        var oci = Path.Combine(outDir, "package", "oci");
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(oci, "index.json")))!;
        var manifest = PackageReader.Blob(oci, index["manifests"]![0]!["digest"]!.GetValue<string>());
        var layer = PackageReader.ReadGzipTar(OciLayout.BlobPath(oci, manifest["layers"]![0]!["digest"]!.GetValue<string>()));
        Assert.That(layer.Keys, Is.SupersetOf(new[] { "kernel", "System.map", "kernel-headers.tar", "kernel.tar", "kernel-dev.tar" }));

        var modules = PackageReader.ReadTar(new MemoryStream(layer["kernel.tar"].Data));
        Assert.That(modules.Keys, Does.Contain($"lib/modules/{Release}/kernel/lib/crc-itu-t.ko"));
        Assert.That(modules.Keys, Does.Contain($"lib/modules/{Release}/modules.dep"));

        // The kit is only right if a module builds against it: unpack it and build one the way users do.
        var kitRoot = Path.Combine(work, "kit");
        Directory.CreateDirectory(kitRoot);
        TarFile.ExtractToDirectory(new MemoryStream(layer["kernel-dev.tar"].Data), kitRoot, overwriteFiles: false);
        var kit = Path.Combine(kitRoot, "usr", "src", "linux-headers-" + Release);
        var module = Path.Combine(work, "hello");
        Directory.CreateDirectory(module);
        File.WriteAllText(Path.Combine(module, "Kbuild"), "obj-m := hello.o\n");
        File.WriteAllText(Path.Combine(module, "hello.c"),
            "#include <linux/module.h>\nstatic int __init hello_init(void) { return 0; }\nmodule_init(hello_init);\nMODULE_LICENSE(\"GPL\");\n");
        var make = new Command("make", "-C", kit, "M=" + module, "modules") { Purpose = "build an external module against kernel-dev.tar" }
            .Run(new RecordingLog());
        Assert.That(File.Exists(Path.Combine(module, "hello.ko")), Is.True, make.StandardOutput);
        var modinfo = new Command("modinfo", "-F", "vermagic", Path.Combine(module, "hello.ko")).Run(new RecordingLog());
        Assert.That(modinfo.StandardOutput, Does.StartWith(Release + " "), "the module is built for the packaged kernel");

        Directory.Delete(work, recursive: true);
    }
}
