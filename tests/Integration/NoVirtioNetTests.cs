using System.Text.Json;

namespace Kiln.Tests.Integration;

/// <summary>
/// A kernel built without CONFIG_VIRTIO_NET, booted on the default machine with the net device attached: its net
/// check must be "not applicable" (neither a pass nor a failure) and the boot must pass. It needs a kernel build of
/// its own (a few minutes with the shared ccache warm), so it is in the Extended category, which CI leaves out:
/// <c>dotnet test Kiln.slnx --filter TestCategory=Extended</c>.
/// </summary>
[TestFixture]
[Category("Extended")]
[NonParallelizable]
public sealed class NoVirtioNetTests
{
    [Test]
    public void A_kernel_without_virtio_net_reports_the_net_check_as_not_applicable()
    {
        var root = KilnRun.CopyInputs();
        var virtio = Path.Combine(root, "configs", "fragments", "common", "virtio.conf");
        File.WriteAllText(virtio, File.ReadAllText(virtio).Replace("CONFIG_VIRTIO_NET=y", "# CONFIG_VIRTIO_NET is not set"));
        var outDir = Path.Combine(root, "out");

        var run = KilnRun.Run(["--target=BootTest", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir], repoRoot: root);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "boot", "results.json")));
        var net = results.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "virtio-net");
        Assert.That(net.GetProperty("status").GetString(), Is.EqualTo("not applicable"));
        Assert.That(net.GetProperty("message").GetString(), Is.EqualTo("CONFIG_VIRTIO_NET is not set"));
        Assert.That(net.GetProperty("passed").GetBoolean(), Is.False, "not applicable is not a pass");
        Assert.That(run.Output, Does.Contain("none failed"));
        Directory.Delete(root, recursive: true);
    }
}
