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

    /// <summary>One fragment, so what merge_config.sh merged is the fragment's text.</summary>
    private ConfigVerification Verify(string fragment, string config, AllowList? allowList = null) =>
        new ConfigVerifier(_index, allowList).Verify(
            ConfigFragment.Parse(fragment, "/x/virtio.conf", "common/virtio.conf").Options,
            KernelConfig.Parse(config, "/build/.config"),
            KernelConfig.Parse(fragment, "/build/.kiln-merged.config"));

    [Test]
    public void OptionsThatHoldPass()
    {
        var result = Verify("CONFIG_PCI=y\n# CONFIG_EXPERT is not set\n", "CONFIG_PCI=y\n# CONFIG_EXPERT is not set\n");
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
        Assert.That(drop.Summary, Is.EqualTo("CONFIG_VIRTIO_PCI=y requested in common/virtio.conf:2 but not in .config: depends on PCI [=n]"));
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
    public void NotSetRequestForUnknownSymbolDropsAsInMergeConfig()
    {
        // merge_config.sh finds no line for it in .config, so Kata's build-kernel.sh fails on it too.
        var drop = Verify("# CONFIG_VIRTIO_PCII is not set\n", "").Dropped.Single();
        Assert.That(drop.Reason, Is.EqualTo(DropReason.UnknownSymbol));
        Assert.That(drop.Summary, Does.Contain("but not in .config").And.Contains("did you mean CONFIG_VIRTIO_PCI?"));
    }

    [Test]
    public void NotSetRequestWhoseDependencyIsOffHasNoLineAndDrops()
    {
        // VIRTIO_PCI is off as asked, but kconfig writes no line for it without VIRTIO_MENU.
        var drop = Verify("# CONFIG_VIRTIO_PCI is not set\n", "# CONFIG_VIRTIO_MENU is not set\n").Dropped.Single();
        Assert.That(drop.Reason, Is.EqualTo(DropReason.UnmetDependency));
        Assert.That(drop.Summary, Does.Contain("it is off, but kconfig writes no line for it because it depends on VIRTIO_MENU [=n]"));
        Assert.That(drop.Details, Has.None.Contains("request CONFIG_"), "no advice to turn on what keeps it off");
    }

    [Test]
    public void EqualsNIsWrittenOtherwiseThanKconfigWritesIt()
    {
        var drop = Verify("CONFIG_EXPERT=n\n", "# CONFIG_EXPERT is not set\n").Dropped.Single();
        Assert.That(drop.Reason, Is.EqualTo(DropReason.WrittenOtherwise));
        Assert.That(drop.Summary, Does.EndWith(".config writes n as '# CONFIG_EXPERT is not set': write that in the fragment"));
    }

    [Test]
    public void CommentNamingTheOptionMakesItDropAsInMergeConfig()
    {
        // Kata's x86_64 fragments name CONFIG_EXPERT in a comment; merge_config.sh's grep -w compares that line too.
        var drop = Verify("CONFIG_PCI=y\n# options CONFIG_PCI needs\n", "CONFIG_PCI=y\n").Dropped.Single();
        Assert.That(drop.Reason, Is.EqualTo(DropReason.WrittenOtherwise));
        Assert.That(drop.Summary, Does.Contain("also name CONFIG_PCI in '# options CONFIG_PCI needs'"));
        Assert.That(Verify("CONFIG_PCI=y\n# options CONFIG_PCI_X needs\n", "CONFIG_PCI=y\n").Dropped, Is.Empty, "a longer name is another word");
    }

    [Test]
    public void TrailingWhitespaceDropsAsInMergeConfig()
    {
        var drop = Verify("CONFIG_PCI=y \n", "CONFIG_PCI=y\n").Dropped.Single();
        Assert.That(drop.Reason, Is.EqualTo(DropReason.WrittenOtherwise));
        Assert.That(drop.Summary, Does.Contain("written differently ('CONFIG_PCI=y ' against 'CONFIG_PCI=y')"));
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
            .And.Contains("allowed to drop: no PCI bus on this machine type"));
    }

    [Test]
    public void KataWhitelistMatchesAsGrepDoesAndSaysSo()
    {
        var whitelist = AllowList.ParseKataWhitelist("# may drop\nCONFIG_VIRTIO\n", "/k/fragments/whitelist.conf");
        var result = Verify("CONFIG_VIRTIO_PCI=y\n", "CONFIG_VIRTIO_MENU=y\n", whitelist);
        Assert.That(result.Succeeded, Is.True);
        Assert.That(result.AllowedDrops.Single().AllowedBecause,
            Is.EqualTo("listed in whitelist.conf as CONFIG_VIRTIO (/k/fragments/whitelist.conf:2), which Kata's grep also matches inside CONFIG_VIRTIO_PCI"));
    }

    [Test]
    public void EmptyLineInAKataWhitelistAllowsEveryDropWithAWarning()
    {
        var whitelist = AllowList.ParseKataWhitelist("CONFIG_A\n\nCONFIG_B\n", "/k/fragments/whitelist.conf");
        var result = Verify("CONFIG_VIRTIO_PCI=y\n", "CONFIG_VIRTIO_MENU=y\n", whitelist);
        Assert.That(result.Succeeded, Is.True, "Kata's grep -v -f with an empty pattern passes every drop");
        Assert.That(result.AllowedDrops.Single().AllowedBecause, Does.Contain("/k/fragments/whitelist.conf:2 is an empty line"));
        Assert.That(result.Warnings.Single(), Does.Contain("every dropped option passes"));
    }
}
