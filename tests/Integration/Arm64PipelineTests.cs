using System.Text.Json;

namespace Kiln.Tests.Integration;

/// <summary>The arm64 guest: cross-built with gcc-aarch64-linux-gnu and booted on QEMU's virt machine.</summary>
[TestFixture]
[Category("Integration")]
[Category("Extended")]
[NonParallelizable]
public sealed class Arm64PipelineTests
{
    [Test]
    public void An_arm64_kernel_is_cross_built_and_boots()
    {
        var outDir = Path.Combine(Path.GetTempPath(), "kiln-test-arm64-" + Guid.NewGuid().ToString("N")[..8]);
        var run = KilnRun.Run(new[] { "--target=BootTest", "--arch=arm64", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir });
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain("qemu-system-aarch64"));
        Assert.That(run.Output, Does.Contain($"PASS: Linux {KilnRun.Key61}"));
        Assert.That(File.Exists(Path.Combine(outDir, "Image")), Is.True, "arm64 kernels are Image, not bzImage");
        Assert.That(File.ReadAllText(Path.Combine(outDir, "metadata.json")), Does.Contain("\"arch\": \"arm64\""));

        // QEMU's virt machine with 2 vCPUs: the devices on its PCI host, the report on virtio-mmio, SMP working.
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "boot", "results.json")));
        Assert.That(results.RootElement.GetProperty("machine").GetString(), Is.EqualTo("virt"));
        var checks = results.RootElement.GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString());
        foreach (var check in new[] { "smp", "memory", "virtio-blk", "virtio-net", "9p", "cgroup2", "namespaces" })
            Assert.That(checks[check], Is.EqualTo("pass"), check);
        Assert.That(results.RootElement.GetProperty("compiledNotExercised").EnumerateArray().Select(e => e.GetString()),
            Does.Not.Contain("CONFIG_VIRTIO_CONSOLE"), "the report channel is a virtio console");
    }
}
