using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Config;

/// <summary>A small Kconfig tree with the constructs the real one uses, so the reader and the verifier can be tested exactly.</summary>
internal sealed class FakeKernelTree : IDisposable
{
    private readonly TempDirectory _directory = new();

    public FakeKernelTree()
    {
        _directory.Write("Kconfig", """
            mainmenu "Fake $(SRCARCH) kernel"

            source "arch/$(SRCARCH)/Kconfig"
            source "drivers/Kconfig"

            config MODULES
            	bool "Loadable module support"

            config EXPERT
            	bool "Expert mode"
            """);
        _directory.Write("arch/x86/Kconfig", """
            config X86
            	def_bool y
            	select HAVE_PCI

            config HAVE_PCI
            	bool
            """);
        _directory.Write("drivers/Kconfig", """
            # drivers
            menuconfig PCI
            	bool "PCI support"
            	depends on HAVE_PCI
            	help
            	  Long help text, with words like config and depends on
            	  that must not be read as Kconfig.

            	  Even after blank lines.

            comment "Virtio"
            	depends on PCI

            menuconfig VIRTIO_MENU
            	bool "Virtio drivers"
            	default y

            if VIRTIO_MENU

            config VIRTIO
            	tristate

            config VIRTIO_PCI
            	tristate "PCI driver for virtio devices"
            	depends on PCI
            	select VIRTIO
            	help
            	  Virtio over PCI.

            endif # VIRTIO_MENU

            menu "Debugging"
            	depends on EXPERT || !X86

            config DEBUG_THING
            	bool "Debug thing" if EXPERT
            	depends on (PCI && VIRTIO_PCI = y) || \
            	           MODULES

            endmenu

            choice
            	prompt "Timer frequency"
            	default HZ_250

            config HZ_100
            	bool "100 HZ"

            config HZ_250
            	bool "250 HZ"

            endchoice

            config CMDLINE
            	string "Built-in command line"
            """);
    }

    public string Path => _directory.Path;

    public KconfigIndex Load() => KconfigIndex.Load(Path, "x86");

    public void Dispose() => _directory.Dispose();
}

public class KconfigIndexTests
{
    [Test]
    public void FollowsSourcesWithSrcArchAndRecordsDefinitions()
    {
        using var tree = new FakeKernelTree();
        var index = tree.Load();

        Assert.That(index.FileCount, Is.EqualTo(3));
        var pci = index.Find("VIRTIO_PCI")!;
        Assert.That(pci.Type, Is.EqualTo(KconfigType.Tristate));
        Assert.That(pci.HasPrompt, Is.True);
        var definition = pci.Definitions.Single();
        Assert.That(definition.Location.ToString(), Is.EqualTo("drivers/Kconfig:23"));
        Assert.That(definition.Dependency!.ToString(), Is.EqualTo("VIRTIO_MENU && PCI"));
        Assert.That(definition.Enclosing.Single().Kind, Is.EqualTo(KconfigConditionKind.If));
        Assert.That(index.Find("VIRTIO")!.SelectedBy.Select(s => s.Symbol), Is.EqualTo(new[] { "VIRTIO_PCI" }));
        Assert.That(index.Find("HAVE_PCI")!.SelectedBy.Select(s => s.Symbol), Is.EqualTo(new[] { "X86" }));
        Assert.That(index.Find("VIRTIO")!.HasPrompt, Is.False);
    }

    [Test]
    public void MenusChoicesAndMenuconfigIfBlocksGiveEachEntryItsMenuPath()
    {
        using var tree = new FakeKernelTree();
        var index = tree.Load();

        string PathOf(string symbol) => string.Join(" > ", index.Find(symbol)!.Definitions[0].Menu?.Path.Select(m => m.Title) ?? Array.Empty<string>());
        Assert.That(PathOf("VIRTIO_PCI"), Is.EqualTo("Virtio drivers"), "if VIRTIO_MENU after menuconfig VIRTIO_MENU");
        Assert.That(PathOf("DEBUG_THING"), Is.EqualTo("Debugging"));
        Assert.That(PathOf("HZ_100"), Is.EqualTo("Timer frequency"));
        Assert.That(PathOf("PCI"), Is.Empty);
    }

    [Test]
    public void HelpTextIsSkippedAndMenusAndContinuationsAreUnderstood()
    {
        using var tree = new FakeKernelTree();
        var index = tree.Load();

        Assert.That(index.Find("DEBUG_THING")!.Definitions.Single().Dependency!.ToString(),
            Is.EqualTo("(EXPERT || !X86) && (PCI && VIRTIO_PCI = y || MODULES)"));
        Assert.That(index.Find("DEBUG_THING")!.Definitions.Single().Prompts.Single().Condition!.ToString(), Is.EqualTo("EXPERT"));
        Assert.That(index.Find("that"), Is.Null);
        Assert.That(index.Find("HZ_100")!.Definitions.Single().Choice!.Members, Is.EqualTo(new[] { "HZ_100", "HZ_250" }));
        Assert.That(index.Find("CMDLINE")!.Type, Is.EqualTo(KconfigType.String));
    }

    [Test]
    public void UnbalancedBlocksAreReported()
    {
        using var tree = new TempDirectory();
        tree.Write("Kconfig", "if FOO\nconfig BAR\n\tbool\n");
        var error = Assert.Throws<KilnException>(() => KconfigIndex.Load(tree.Path, "x86"));
        Assert.That(error!.Message, Does.Contain("Kconfig:1"));
    }

    [Test]
    public void SuggestsCloseNames()
    {
        using var tree = new FakeKernelTree();
        var index = tree.Load();
        Assert.That(index.Suggest("VIRTIO_PCII"), Is.EqualTo(new[] { "VIRTIO_PCI" }));
        Assert.That(index.Suggest("VIRTOI_PCI").First(), Is.EqualTo("VIRTIO_PCI"));
        Assert.That(index.Suggest("COMPLETELY_DIFFERENT"), Is.Empty);
    }

    [TestCase("kitten", "sitting", 3)]
    [TestCase("VIRTIO_PCI", "VIRTIO_PCI", 0)]
    [TestCase("VIRTIO_PCII", "VIRTIO_PCI", 1)]
    [TestCase("VIRTOI", "VIRTIO", 1)]
    [TestCase("", "abc", 3)]
    public void EditDistanceCountsEditsAndTranspositions(string a, string b, int expected) =>
        Assert.That(EditDistance.Compute(a, b), Is.EqualTo(expected));

    [Test]
    public void EditDistanceStopsEarlyAboveTheLimit() =>
        Assert.That(EditDistance.Compute("ABCDEFGH", "ZYXWVUTS", limit: 2), Is.EqualTo(3));
}

public class KconfigExprTests
{
    private static KconfigExpr Parse(string text)
    {
        var tokens = new KconfigTokens(text);
        var expression = tokens.ParseExpression();
        tokens.ExpectEnd();
        return expression;
    }

    [TestCase("A && B || C", "A && B || C")]
    [TestCase("A && (B || C)", "A && (B || C)")]
    [TestCase("!(A && B)", "!(A && B)")]
    [TestCase("!A&&B", "!A && B")]
    [TestCase("X86_64 = y", "X86_64 = y")]
    [TestCase("(NR_CPUS>=4)", "NR_CPUS >= 4")]
    [TestCase("$(cc-option,-march=z10)", "$(cc-option,-march=z10)")]
    [TestCase("CMDLINE != \"\"", "CMDLINE != \"\"")]
    public void PrintsInKconfigStyle(string text, string expected) =>
        Assert.That(Parse(text).Display(), Is.EqualTo(expected));

    [Test]
    public void DisplaysValuesLikeMenuconfig()
    {
        var config = KernelConfig.Parse("CONFIG_VIRTIO_MENU=y\n# CONFIG_PCI is not set\nCONFIG_CMDLINE=\"quiet\"\n");
        Assert.That(Parse("VIRTIO_MENU && PCI").Display(config), Is.EqualTo("VIRTIO_MENU [=y] && PCI [=n]"));
        Assert.That(Parse("CMDLINE = \"quiet\" || !MISSING").Display(config), Is.EqualTo("CMDLINE [=quiet] = \"quiet\" || !MISSING [=n]"));
    }

    [TestCase("A && B", Tristate.M)]
    [TestCase("A || C", Tristate.Y)]
    [TestCase("!B", Tristate.M)]
    [TestCase("!C", Tristate.N)]
    [TestCase("N = 8", Tristate.Y)]
    [TestCase("N > 0x10", Tristate.N)]
    [TestCase("A = m", Tristate.N)]
    [TestCase("UNSET = n", Tristate.Y)]
    [TestCase("m", Tristate.M)]
    public void EvaluatesWithTristateLogic(string text, Tristate expected)
    {
        var config = KernelConfig.Parse("CONFIG_A=y\nCONFIG_B=m\nCONFIG_C=y\nCONFIG_N=8\nCONFIG_MODULES=y\n");
        Assert.That(Parse(text).Evaluate(config), Is.EqualTo(expected));
    }

    [Test]
    public void ConstantMIsNWithoutModules() =>
        Assert.That(Parse("m").Evaluate(KernelConfig.Parse("")), Is.EqualTo(Tristate.N));
}
