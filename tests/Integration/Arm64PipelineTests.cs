namespace Kiln.Tests.Integration;

/// <summary>The arm64 guest: cross-built with gcc-aarch64-linux-gnu and booted on QEMU's virt machine.</summary>
[TestFixture]
[Category("Integration")]
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
    }
}
