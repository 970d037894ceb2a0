using Kiln.Kernel;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Config;

/// <summary>
/// Runs tinyconfig, merge_config.sh and olddefconfig against a real kernel tree (a few seconds each).
/// The tree is $KILN_TEST_KERNEL_SRC or the shared test build's Debian 6.1 source.
/// </summary>
[Category("Integration")]
public class KernelConfiguratorIntegrationTests
{
    private string _source = null!;
    private TempDirectory _work = null!;

    [OneTimeSetUp]
    public void FindTree()
    {
        _source = Kiln.Tests.Integration.TestKernel.SourceTree;
    }

    [SetUp]
    public void CreateWorkDirectory() => _work = new TempDirectory();

    [TearDown]
    public void RemoveWorkDirectory() => _work.Dispose();

    private ConfigureResult Configure(FragmentSet fragments, RecordingLog log, AllowList? allowList = null) =>
        new KernelConfigurator(log).Configure(
            new ConfigureRequest(_source, Path.Combine(_work.Path, "build"), Arch.X86_64, fragments)
            {
                AllowList = allowList ?? AllowList.Empty,
            });

    private FragmentSet Fragments(string text) =>
        new(new[] { ConfigFragment.Load(_work.Write("fragments/common/virtio.conf", text), "common/virtio.conf") });

    [Test]
    public void RepositoryFragmentsAllHoldOnX86_64()
    {
        var fragments = FragmentSet.Select(Path.Combine(TestPaths.RepositoryRoot, "configs", "fragments"), Arch.X86_64);
        var allowList = AllowList.Load(Path.Combine(TestPaths.RepositoryRoot, "configs", "allow-dropped.conf"));
        var log = new RecordingLog();

        var result = Configure(fragments, log, allowList);

        Assert.That(result.Verification.Succeeded, Is.True, () => result.Verification.Describe());
        Assert.That(result.Verification.Dropped, Is.Empty, () => result.Verification.Describe());
        Assert.That(result.Config.Get("64BIT"), Is.EqualTo("y"), "ARCH=x86_64 must give a 64-bit config");
        Assert.That(File.Exists(result.ConfigPath), Is.True);
        Assert.That(log.Lines, Has.Some.Contains("merge_config.sh -m -O"));
        Assert.That(log.Lines.Where(l => l.StartsWith("info:")), Has.None.Contains("Merging "), "merge output stays verbose");
    }

    [Test]
    public void VirtioPciWithoutPciFailsNamingPci()
    {
        var result = Configure(Fragments("CONFIG_VIRTIO_MENU=y\nCONFIG_VIRTIO_PCI=y\n"), new RecordingLog());

        var drop = result.Verification.Failures.Single();
        Assert.That(drop.Summary, Is.EqualTo("CONFIG_VIRTIO_PCI=y requested in common/virtio.conf:2 but not in .config: depends on PCI [=n]"));
        var error = Assert.Throws<KilnException>(result.Verification.ThrowIfFailed);
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.KernelFailed));
        Assert.That(error.Message, Does.Contain("drivers/virtio/Kconfig").And.Contains("PCI [=n] is off: request CONFIG_PCI=y as well"));
    }

    [Test]
    public void MisspelledOptionIsNotDefinedAndGetsASuggestion()
    {
        var result = Configure(Fragments("CONFIG_VIRTIO_PCII=y\n"), new RecordingLog());

        var drop = result.Verification.Failures.Single();
        Assert.That(drop.Reason, Is.EqualTo(DropReason.UnknownSymbol));
        Assert.That(drop.Summary, Does.Contain("not defined").And.Contains("did you mean CONFIG_VIRTIO_PCI"));
    }

    [Test]
    public void AllowListedDropPassesWithAWarning()
    {
        var allow = AllowList.Parse("CONFIG_9P_FS  # the guest shares files over virtio-fs only\n", "configs/allow-dropped.conf");
        var log = new RecordingLog();

        var result = Configure(Fragments("CONFIG_PRINTK=y\nCONFIG_9P_FS=y\n"), log, allow);

        Assert.That(result.Verification.Succeeded, Is.True);
        Assert.DoesNotThrow(result.Verification.ThrowIfFailed);
        Assert.That(result.Verification.AllowedDrops.Single().Summary, Does.Contain("INET [=n]"));
        Assert.That(log.Lines, Has.Some.StartsWith("warning: CONFIG_9P_FS=y requested in common/virtio.conf:2"));
    }

    [Test]
    public void BaseConfigCanBeAFile()
    {
        var baseConfig = _work.Write("base.config", "CONFIG_64BIT=y\nCONFIG_PRINTK=y\n");
        var result = new KernelConfigurator(new RecordingLog()).Configure(
            new ConfigureRequest(_source, Path.Combine(_work.Path, "build"), Arch.X86_64, Fragments("CONFIG_PRINTK_TIME=y\n"))
            {
                BaseConfig = baseConfig,
            });
        Assert.That(result.Verification.Succeeded, Is.True, () => result.Verification.Describe());
        Assert.That(result.Config.Get("PRINTK"), Is.EqualTo("y"));
    }

    [Test]
    public void UnknownBaseConfigIsBadInput()
    {
        var error = Assert.Throws<KilnException>(() => new KernelConfigurator(new RecordingLog()).Configure(
            new ConfigureRequest(_source, Path.Combine(_work.Path, "build"), Arch.X86_64, Fragments("CONFIG_PRINTK=y\n"))
            {
                BaseConfig = "no/such/file",
            }));
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
    }

    [Test]
    public void WholeTreeIndexLoadsQuickly()
    {
        foreach (var arch in Arch.All)
        {
            var index = KconfigIndex.Load(_source, arch);
            Assert.That(index.Find("VIRTIO_PCI"), Is.Not.Null);
            Assert.That(index.FileCount, Is.GreaterThan(1000));
            Assert.That(index.LoadTime, Is.LessThan(TimeSpan.FromSeconds(5)), arch.Name);
        }
    }
}
