using Kiln.Kernel.Config;
using NUnit.Framework;

namespace Kiln.Tests.Config;

public class ConfigDiffTests
{
    [Test]
    public void OptionsSetInOnlyOneConfigAreGroupedByKconfigMenu()
    {
        using var tree = new FakeKernelTree();
        var ours = KernelConfig.Parse("CONFIG_PCI=y\nCONFIG_VIRTIO_MENU=y\nCONFIG_VIRTIO_PCI=y\nCONFIG_HZ_250=y\nCONFIG_CMDLINE=\"a\"\n# CONFIG_EXPERT is not set\n");
        var theirs = KernelConfig.Parse("CONFIG_PCI=y\nCONFIG_HZ_100=y\nCONFIG_CMDLINE=\"b\"\nCONFIG_EXPERT=y\nCONFIG_GONE=y\n# CONFIG_VIRTIO_PCI is not set\n");

        var diff = ConfigDiff.Compare(ours, "kiln.config", theirs, "kata.config", tree.Load());

        Assert.That(diff.Groups.Select(g => (g.Menu, string.Join(" ", g.Differences.Select(d => d.Symbol)))), Is.EqualTo(new[]
        {
            (ConfigDiff.TopLevel, "CMDLINE EXPERT VIRTIO_MENU"),
            ("Virtio drivers", "VIRTIO_PCI"),
            ("Timer frequency", "HZ_100 HZ_250"),
            (ConfigDiff.NotInKconfig, "GONE"),
        }));
        var report = diff.Render();
        Assert.That(report, Does.StartWith("+ set only in kiln.config: 3\n- set only in kata.config: 3\n~ set in both, to different values: 1\n"));
        Assert.That(report, Does.Contain("\nVirtio drivers\n  + CONFIG_VIRTIO_PCI=y\n"));
        Assert.That(report, Does.Contain("  - CONFIG_EXPERT=y\n").And.Contain("  ~ CONFIG_CMDLINE=\"a\" (theirs: \"b\")\n"));
        Assert.That(report, Does.Not.Contain("CONFIG_PCI=y"), "the same in both");
    }

    [Test]
    public void IdenticalConfigsHaveNoDifferences()
    {
        using var tree = new FakeKernelTree();
        var config = KernelConfig.Parse("CONFIG_PCI=y\n# CONFIG_EXPERT is not set\n");
        var diff = ConfigDiff.Compare(config, "a", KernelConfig.Parse("CONFIG_PCI=y\n"), "b", tree.Load());
        Assert.That(diff.Groups, Is.Empty, "not set and absent are the same: neither sets it");
    }
}
