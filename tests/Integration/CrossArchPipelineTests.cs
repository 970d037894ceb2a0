using System.Text.Json;
using Kiln.Kernel;
using Kiln.Kernel.Boot;

namespace Kiln.Tests.Integration;

/// <summary>
/// Each foreign arch's guest: the default (tinyconfig-based) 6.1 kernel cross-built with Debian's gcc for it and booted
/// under QEMU TCG on its default machine, with every check BootTest makes on x86_64. One cold build each (12–25 min here),
/// so Extended; the shared cache keeps each arch's kernel for the other tests of that arch.
/// </summary>
[TestFixture]
[Category("Integration")]
[Category("Extended")]
[NonParallelizable]
public sealed class CrossArchPipelineTests
{
    [TestCase("arm64", "virt", "Image")]
    [TestCase("s390x", "s390-ccw-virtio", "bzImage")]
    [TestCase("ppc64le", "pseries", "vmlinux")]
    [TestCase("riscv64", "virt", "Image")]
    public void A_cross_built_kernel_boots_on_its_arch_machine_and_passes_every_check(string archName, string machine, string image)
    {
        var arch = Arch.Parse(archName);
        var outDir = Path.Combine(Path.GetTempPath(), $"kiln-test-{archName}-" + Guid.NewGuid().ToString("N")[..8]);
        var run = KilnRun.Run(new[] { "--target=BootTest", "--arch=" + archName, "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir });
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain(arch.QemuBinary));
        Assert.That(run.Output, Does.Contain($"PASS: Linux {KilnRun.Key61}"));
        Assert.That(File.Exists(Path.Combine(outDir, image)), Is.True, $"{archName} kernels are {image}");
        Assert.That(File.ReadAllText(Path.Combine(outDir, "metadata.json")), Does.Contain($"\"arch\": \"{archName}\""));

        // The arch's machine with 2 vCPUs: every device attached on its transport, SMP working.
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "boot", "results.json")));
        Assert.That(results.RootElement.GetProperty("machine").GetString(), Is.EqualTo(machine));
        var checks = results.RootElement.GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString());
        foreach (var check in new[] { "smp", "memory", "virtio-blk", "virtio-net", "9p", "cgroup2", "namespaces" })
            Assert.That(checks[check], Is.EqualTo("pass"), check);
        if (MachineProfile.Default(arch).Report == ReportWiring.VirtioConsole)
            Assert.That(results.RootElement.GetProperty("compiledNotExercised").EnumerateArray().Select(e => e.GetString()),
                Does.Not.Contain("CONFIG_VIRTIO_CONSOLE"), "the report channel is a virtio console");
    }
}
