using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Config;

public class ConfigVerifierTests
{
    private FakeKernelTree _tree = null!;
    private KconfigIndex _index = null!;

    [OneTimeSetUp]
    public void LoadTree()
    {
        _tree = new FakeKernelTree();
        _index = _tree.Load();
    }

    [OneTimeTearDown]
    public void RemoveTree() => _tree.Dispose();

    private ConfigVerification Verify(string fragment, string config, AllowList? allowList = null) =>
        new ConfigVerifier(_index, allowList).Verify(
            ConfigFragment.Parse(fragment, "/x/virtio.conf", "common/virtio.conf").Options,
            KernelConfig.Parse(config, "/build/.config"));

    [Test]
    public void OptionsThatHoldPass()
    {
        var result = Verify("CONFIG_PCI=y\n# CONFIG_EXPERT is not set\n", "CONFIG_PCI=y\n");
        Assert.That(result.Succeeded, Is.True);
        Assert.That(result.Dropped, Is.Empty);
        Assert.DoesNotThrow(result.ThrowIfFailed);
    }

    [Test]
    public void UnmetDependencyNamesTheFragmentLineAndTheOffSymbol()
    {
        var result = Verify("CONFIG_VIRTIO_MENU=y\nCONFIG_VIRTIO_PCI=y\n", "CONFIG_VIRTIO_MENU=y\n# CONFIG_PCI is not set\n");
        var drop = result.Dropped.Single();
        Assert.That(drop.Reason, Is.EqualTo(DropReason.UnmetDependency));
        Assert.That(drop.Summary, Is.EqualTo("CONFIG_VIRTIO_PCI=y requested in common/virtio.conf:2 but not set: depends on PCI [=n]"));
        Assert.That(drop.Details, Does.Contain("drivers/Kconfig:23: depends on VIRTIO_MENU [=y] && PCI [=n]"));
        Assert.That(drop.Details, Does.Contain("PCI [=n] is off: request CONFIG_PCI=y as well"));
    }

    [Test]
    public void EnclosingIfConditionIsPartOfTheDependency()
    {
        var drop = Verify("CONFIG_VIRTIO_PCI=y\n", "CONFIG_PCI=y\n# CONFIG_VIRTIO_MENU is not set\n").Dropped.Single();
        Assert.That(drop.Summary, Does.EndWith("depends on VIRTIO_MENU [=n]"));
        Assert.That(drop.Details, Has.Some.Contains("inside 'if' at drivers/Kconfig:18"));
    }

    [Test]
    public void YRequestLimitedToMByATristateDependencyIsExplained()
    {
        var limited = Verify("CONFIG_VIRTIO_PCI=y\n", "CONFIG_VIRTIO_MENU=m\nCONFIG_PCI=y\nCONFIG_MODULES=y\n").Dropped.Single();
        Assert.That(limited.Summary, Does.EndWith("depends on VIRTIO_MENU [=m], which limits it to m"));
    }

    [Test]
    public void UnknownSymbolGetsSuggestions()
    {
        var drop = Verify("CONFIG_VIRTIO_PCII=y\n", "").Dropped.Single();
        Assert.That(drop.Reason, Is.EqualTo(DropReason.UnknownSymbol));
        Assert.That(drop.Summary, Does.Contain("not defined in any Kconfig file").And.Contain("did you mean CONFIG_VIRTIO_PCI?"));
    }

    [Test]
    public void NotSetRequestForUnknownSymbolHoldsWithAWarning()
    {
        var result = Verify("# CONFIG_VIRTIO_PCII is not set\n", "");
        Assert.That(result.Succeeded, Is.True);
        Assert.That(result.Warnings.Single(), Does.Contain("did you mean CONFIG_VIRTIO_PCI?"));
    }

    [Test]
    public void SymbolWithoutPromptCanOnlyBeSelected()
    {
        var drop = Verify("CONFIG_VIRTIO=y\n", "CONFIG_VIRTIO_MENU=y\n").Dropped.Single();
        Assert.That(drop.Reason, Is.EqualTo(DropReason.NoPrompt));
        Assert.That(drop.Details, Does.Contain("selected by: VIRTIO_PCI [=n]"));
    }

    [Test]
    public void HiddenPromptIsNoPrompt()
    {
        var drop = Verify("CONFIG_DEBUG_THING=y\n", "CONFIG_MODULES=y\n# CONFIG_EXPERT is not set\n").Dropped;
        // The menu depends on EXPERT || !X86: with X86 unset the dependency holds, but the prompt needs EXPERT.
        Assert.That(drop.Single().Reason, Is.EqualTo(DropReason.NoPrompt));
        Assert.That(drop.Single().Summary, Does.Contain("its prompt is hidden (EXPERT [=n])"));
    }

    [Test]
    public void ModuleWithoutModuleSupportIsValueDiffers()
    {
        var drop = Verify("CONFIG_VIRTIO_PCI=m\n", "CONFIG_VIRTIO_MENU=y\nCONFIG_PCI=y\n").Dropped.Single();
        Assert.That(drop.Reason, Is.EqualTo(DropReason.ValueDiffers));
        Assert.That(drop.Summary, Does.EndWith("m needs loadable module support: MODULES [=n]"));
    }

    [Test]
    public void BoolCannotBeModule()
    {
        var drop = Verify("CONFIG_PCI=m\n", "CONFIG_MODULES=y\nCONFIG_PCI=y\n").Dropped.Single();
        Assert.That(drop.Summary, Does.Contain("set to y").And.Contains("is a bool option, it cannot be m"));
    }

    [Test]
    public void NotSetButSelectedNamesTheSelector()
    {
        var drop = Verify("# CONFIG_VIRTIO is not set\n", "CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO=y\n").Dropped.Single();
        Assert.That(drop.Summary, Does.Contain("set to y").And.Contains("selected by VIRTIO_PCI [=y] (drivers/Kconfig:26)"));
    }

    [Test]
    public void ChoiceMemberLosesToTheChosenOne()
    {
        var drop = Verify("CONFIG_HZ_100=y\n", "CONFIG_HZ_250=y\n# CONFIG_HZ_100 is not set\n").Dropped.Single();
        Assert.That(drop.Summary, Does.Contain("choice at drivers/Kconfig:").And.Contains("(Timer frequency)").And.Contains("HZ_250 [=y] is chosen instead"));
    }

    [Test]
    public void FailureThrowsKernelFailedWithTheFullExplanation()
    {
        var result = Verify("CONFIG_VIRTIO_MENU=y\nCONFIG_VIRTIO_PCI=y\n", "CONFIG_VIRTIO_MENU=y\n");
        var error = Assert.Throws<KilnException>(result.ThrowIfFailed);
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.KernelFailed));
        Assert.That(error.Message, Does.Contain("1 of 2 requested config options are not in the final .config (/build/.config)"));
        Assert.That(error.Message, Does.Contain("depends on PCI [=n]").And.Contains("allow-dropped.conf"));
    }

    [Test]
    public void AllowListedDropPassesWithAWarning()
    {
        var allow = AllowList.Parse("CONFIG_VIRTIO_PCI  # no PCI bus on this machine type\n", "configs/allow-dropped.conf");
        var result = Verify("CONFIG_VIRTIO_PCI=y\n", "CONFIG_VIRTIO_MENU=y\n", allow);
        Assert.That(result.Succeeded, Is.True);
        Assert.That(result.AllowedDrops.Single().AllowedBecause, Is.EqualTo("no PCI bus on this machine type"));
        Assert.DoesNotThrow(result.ThrowIfFailed);

        var log = new RecordingLog();
        result.Report(log);
        Assert.That(log.Lines, Has.Some.StartsWith("warning: CONFIG_VIRTIO_PCI=y requested in common/virtio.conf:1")
            .And.Contains("allowed to drop (configs/allow-dropped.conf): no PCI bus on this machine type"));
    }
}
