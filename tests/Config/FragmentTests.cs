using Kiln.Kernel;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Config;

public class FragmentTests
{
    [Test]
    public void ParsesOptionsWithValuesAndLines()
    {
        var fragment = ConfigFragment.Parse(
            "# comment\nCONFIG_PCI=y\nCONFIG_EXT4_FS=m\n# CONFIG_IPV6 is not set\nCONFIG_CMDLINE=\"console=ttyS0 quiet\"\nCONFIG_NR_CPUS=8\nCONFIG_PHYSICAL_START=0x1000000\n\n",
            "/x/common/a.conf", "common/a.conf");

        Assert.That(fragment.Options.Select(o => (o.Symbol, o.Value, o.Origin.Line)), Is.EqualTo(new[]
        {
            ("PCI", "y", 2), ("EXT4_FS", "m", 3), ("IPV6", "n", 4), ("CMDLINE", "\"console=ttyS0 quiet\"", 5),
            ("NR_CPUS", "8", 6), ("PHYSICAL_START", "0x1000000", 7),
        }));
        Assert.That(fragment.Options[0].Origin.ToString(), Is.EqualTo("common/a.conf:2"));
        Assert.That(fragment.AppliesTo(Arch.X86_64) && fragment.AppliesTo(Arch.Arm64), Is.True);
        Assert.That(fragment.Warnings, Is.Empty);
    }

    [TestCase("CONFIG_PCI y")]
    [TestCase("PCI=y")]
    [TestCase("CONFIG_PCI=yes")]
    [TestCase("CONFIG_PCI=y # trailing comment")]
    [TestCase("CONFIG_CMDLINE=\"unterminated")]
    public void MalformedLineIsBadInputNamingFileAndLine(string line)
    {
        var error = Assert.Throws<KilnException>(() => ConfigFragment.Parse("CONFIG_A=y\n" + line + "\n", "/x/b.conf", "common/b.conf"));
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.Message, Does.StartWith("common/b.conf:2:"));
    }

    [Test]
    public void TagsExcludeArchesAsKatasGrepFindsThem()
    {
        var fragment = ConfigFragment.Parse("# !arm64 !s390x\nCONFIG_PCI=y\n", "/x/a.conf", "a.conf");
        Assert.That(fragment.AppliesTo(Arch.Arm64), Is.False);
        Assert.That(fragment.AppliesTo(Arch.X86_64), Is.True);
        Assert.That(fragment.IsTagged("s390"), Is.True, "grep -e '!s390' matches '!s390x'");
        Assert.That(fragment.IsTagged("confidential"), Is.False);
    }

    [Test]
    public void TagsCountOnAnyLineAsInKata()
    {
        // build-kernel.sh runs grep -L over the whole file, and '#!powerpc' needs no space.
        var fragment = ConfigFragment.Parse("# guest options\n#!arm64\nCONFIG_PCI=y\n", "/x/a.conf", "a.conf");
        Assert.That(fragment.AppliesTo(Arch.Arm64), Is.False);
        Assert.That(ConfigFragment.Parse("# Basic necessary items!\nCONFIG_PCI=y\n", "/x/b.conf", "b.conf").AppliesTo(Arch.Arm64), Is.True);
    }

    [TestCase("#CONFIG_IPV6 is not set")]
    [TestCase("#  CONFIG_IPV6 is not set")]
    [TestCase("# CONFIG_IPV6 is not set ")]
    [TestCase("# CONFIG_IPV6 is not set\r")]
    public void NotSetLinesMergeConfigReadsAsCommentsAreCommentsWithAWarning(string line)
    {
        var fragment = ConfigFragment.Parse("CONFIG_PCI=y\n" + line + "\n", "/x/a.conf", "common/a.conf");
        Assert.That(fragment.Options.Select(o => o.Symbol), Is.EqualTo(new[] { "PCI" }));
        Assert.That(fragment.Warnings.Single(), Does.StartWith("common/a.conf:2:").And.Contains("write exactly '# CONFIG_IPV6 is not set'"));
    }

    [Test]
    public void SelectionOrderIsCommonThenArchThenVariantSortedByName()
    {
        using var root = new TempDirectory();
        root.Write("common/b.conf", "CONFIG_B=y\n");
        root.Write("common/a.conf", "CONFIG_A=y\n");
        root.Write("common/notx86.conf", "# !x86_64\nCONFIG_ARMONLY=y\n");
        root.Write("x86_64/x.conf", "# !arm64\nCONFIG_X=y\n");
        root.Write("arm64/arm.conf", "CONFIG_ARM=y\n");
        root.Write("debug/d.conf", "CONFIG_DEBUG_KERNEL=y\n");
        root.Write("common/README.md", "not a fragment");

        var x86 = FragmentSet.Select(root.Path, Arch.X86_64, new[] { "dbg" });
        Assert.That(x86.Fragments.Select(f => f.DisplayName),
            Is.EqualTo(new[] { "common/a.conf", "common/b.conf", "x86_64/x.conf", "debug/d.conf" }));

        var arm = FragmentSet.Select(root.Path, Arch.Arm64);
        Assert.That(arm.Fragments.Select(f => f.DisplayName),
            Is.EqualTo(new[] { "common/a.conf", "common/b.conf", "common/notx86.conf", "arm64/arm.conf" }));
    }

    [Test]
    public void UnknownVariantIsBadInputListingKnownOnes()
    {
        using var root = new TempDirectory();
        root.Write("common/a.conf", "CONFIG_A=y\n");
        root.Write("debug/d.conf", "CONFIG_D=y\n");
        var error = Assert.Throws<KilnException>(() => FragmentSet.Select(root.Path, Arch.X86_64, new[] { "fast" }));
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.Message, Does.Contain("Known: dbg"));
    }

    /// <summary>A tree laid out like Kata's tools/packaging/kernel/configs/fragments (Kiln's own fixture, not Kata's files).</summary>
    private static TempDirectory KataLayout()
    {
        var root = new TempDirectory();
        root.Write("common/base.conf", "# Basic necessary items!\nCONFIG_A=y\n");
        root.Write("common/virtio-extras.conf", "# !confidential\nCONFIG_EXTRAS=y\n");
        root.Write("common/virtio.conf", "CONFIG_VIRTIO=y\n");
        root.Write("common/s390only.conf", "# !x86_64 !arm64\nCONFIG_S390_THING=y\n");
        root.Write("common/confidential_containers/tmpfs.conf", "CONFIG_TMPFS=y\n");
        root.Write("common/confidential_containers/cryptsetup.conf", "CONFIG_DM_CRYPT=y\n");
        root.Write("x86_64/base.conf", "CONFIG_X86=y\n");
        root.Write("x86_64/confidential/tdx.conf", "CONFIG_TDX=y\n");
        root.Write("x86_64/snp/snp.conf", "CONFIG_SNP=y\n");
        root.Write("build-type/experimental/z.conf", "CONFIG_Z=y\n");
        root.Write("build-type/experimental/sub/a.conf", "CONFIG_SUB=y\n");
        root.Write("gpu/nvidia.x86_64.conf.in", "CONFIG_X=${CONF_GUEST_SUFFIX}\n");
        root.Write("debug/debug.conf", "CONFIG_DEBUG_KERNEL=y\n");
        root.Write("whitelist.conf", "CONFIG_GONE\n");
        return root;
    }

    [Test]
    public void KataLayoutSelectsAsBuildKernelShDoes()
    {
        using var root = KataLayout();
        var plain = FragmentSet.Select(root.Path, new FragmentSelection(Arch.X86_64));
        Assert.That(plain.Fragments.Select(f => f.DisplayName), Is.EqualTo(new[]
        {
            "common/base.conf", "common/virtio-extras.conf", "common/virtio.conf", "x86_64/base.conf",
        }));

        var everything = FragmentSet.Select(root.Path, new FragmentSelection(Arch.X86_64)
        {
            BuildType = "experimental", ConfGuest = "confidential", Variants = new[] { "dbg" },
        });
        Assert.That(everything.Fragments.Select(f => f.DisplayName), Is.EqualTo(new[]
        {
            "common/base.conf", "common/virtio.conf", "x86_64/base.conf",
            "build-type/experimental/sub/a.conf", "build-type/experimental/z.conf",
            "x86_64/confidential/tdx.conf", "common/confidential_containers/tmpfs.conf", "debug/debug.conf",
        }));
    }

    [Test]
    public void BuildTypeWithoutAFolderIsBadInputNamingIt()
    {
        using var root = KataLayout();
        var error = Assert.Throws<KilnException>(() => FragmentSet.Select(root.Path, new FragmentSelection(Arch.X86_64) { BuildType = "fast" }));
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.Message, Does.Contain(Path.Combine(root.Path, "build-type", "fast")).And.Contains("Known build types: experimental"));
    }

    [Test]
    public void ConfGuestWithoutFragmentsForTheArchIsBadInput()
    {
        using var root = KataLayout();
        var error = Assert.Throws<KilnException>(() => FragmentSet.Select(root.Path, new FragmentSelection(Arch.Arm64) { ConfGuest = "confidential" }));
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.Message, Does.Contain(Path.Combine(root.Path, "arm64", "confidential")));
    }

    [Test]
    public void GpuTemplatesAreRefusedWithExit2()
    {
        using var root = KataLayout();
        var error = Assert.Throws<KilnException>(() => FragmentSet.Select(root.Path, Arch.X86_64, new[] { "gpu" }));
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.Message, Does.Contain("nvidia.x86_64.conf.in").And.Contains("envsubst"));
    }

    [TestCase("aarch64", "arm64")]
    [TestCase("x86_64", "x86_64")]
    public void KatasArchNamesMapToKilns(string kata, string kiln) => Assert.That(Arch.Parse(kata).Name, Is.EqualTo(kiln));

    [TestCase("sparc")]
    [TestCase("ppc64")]
    [TestCase("mips")]
    public void ArchesKilnDoesNotBuildAreBadInputListingTheSupportedOnes(string name)
    {
        var error = Assert.Throws<KilnException>(() => Arch.Parse(name));
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.Message, Does.Contain("Supported: x86_64, arm64, s390x, ppc64le, riscv64"));
    }

    [Test]
    public void ConflictingRequestsAreReportedAndTheLaterWins()
    {
        var first = ConfigFragment.Parse("CONFIG_A=y\nCONFIG_B=y\n", "/x/1.conf", "common/1.conf");
        var second = ConfigFragment.Parse("# CONFIG_A is not set\nCONFIG_B=y\n", "/x/2.conf", "debug/2.conf");
        var set = new FragmentSet(new[] { first, second });

        Assert.That(set.Requested.Select(r => (r.Symbol, r.Value)), Is.EqualTo(new[] { ("A", "n"), ("B", "y") }));
        Assert.That(set.Requested[0].Origin.ToString(), Is.EqualTo("debug/2.conf:1"));
        Assert.That(set.Conflicts, Has.Count.EqualTo(1));
        Assert.That(set.Conflicts[0].ToString(), Is.EqualTo("CONFIG_A=n in debug/2.conf:1 overrides CONFIG_A=y from common/1.conf:1"));
    }

    [Test]
    public void RepositoryFragmentsParseForEveryArch()
    {
        var root = Path.Combine(TestPaths.RepositoryRoot, "configs", "fragments");
        foreach (var arch in Arch.All)
        {
            var set = FragmentSet.Select(root, arch, new[] { "dbg" });
            Assert.That(set.Fragments.Any(f => f.DisplayName.StartsWith(arch.KataName + "/")), Is.True, arch.Name);
            Assert.That(set.Fragments.Any(f => !f.AppliesTo(arch)), Is.False);
            Assert.That(set.Conflicts, Is.Empty, arch.Name);
        }
    }
}

public class KernelConfigTests
{
    [Test]
    public void ReadsValuesAndNotSet()
    {
        var config = KernelConfig.Parse("#\n# Automatically generated\nCONFIG_PCI=y\n# CONFIG_IPV6 is not set\nCONFIG_CMDLINE=\"a b\"\nCONFIG_NR_CPUS=8\n");
        Assert.That(config.Get("PCI"), Is.EqualTo("y"));
        Assert.That(config.Get("IPV6"), Is.EqualTo("n"));
        Assert.That(config.Get("CMDLINE"), Is.EqualTo("\"a b\""));
        Assert.That(config.Get("NR_CPUS"), Is.EqualTo("8"));
        Assert.That(config.Get("MISSING"), Is.Null);
        Assert.That(config.IsEnabled("PCI"), Is.True);
        Assert.That(config.IsEnabled("IPV6"), Is.False);
    }

    [TestCase("n", null, true)]
    [TestCase("0x10", "0X10", true)]
    [TestCase("16", "0x10", true)]
    [TestCase("y", "m", false)]
    [TestCase("\"a\"", "\"b\"", false)]
    public void ValuesCompareAsKconfigMeansThem(string requested, string? final, bool equivalent) =>
        Assert.That(ConfigValues.Equivalent(requested, final), Is.EqualTo(equivalent));
}

public class AllowListTests
{
    [Test]
    public void ReadsEntriesWithReasons()
    {
        var list = AllowList.Parse("# options that may drop\n\nCONFIG_KPROBES   # needs MODULES, not in tinyconfig guests\n", "configs/allow-dropped.conf");
        Assert.That(list.TryGetReason("KPROBES", out var reason), Is.True);
        Assert.That(reason, Is.EqualTo("needs MODULES, not in tinyconfig guests"));
        Assert.That(list.TryGetReason("PCI", out _), Is.False);
    }

    [TestCase("CONFIG_KPROBES")]
    [TestCase("CONFIG_KPROBES #")]
    [TestCase("KPROBES # reason")]
    [TestCase("CONFIG_KPROBES=y # reason")]
    public void EntryWithoutReasonOrMalformedIsBadInput(string line)
    {
        var error = Assert.Throws<KilnException>(() => AllowList.Parse("# header\n" + line + "\n", "allow.conf"));
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.Message, Does.StartWith("allow.conf:2:"));
    }

    [Test]
    public void KataWhitelistIsGrepPatterns()
    {
        var list = AllowList.ParseKataWhitelist("# configuration options which may be dropped\nCONFIG_MEMCG_SWAP\nCONFIG_NF_NAT_IPV4\n", "/k/whitelist.conf");
        Assert.That(list.TryGetReason("MEMCG_SWAP", out var exact), Is.True);
        Assert.That(exact, Is.EqualTo("listed in whitelist.conf (/k/whitelist.conf:2)"));
        Assert.That(list.TryGetReason("MEMCG_SWAP_ENABLED", out var prefix), Is.True, "grep finds CONFIG_MEMCG_SWAP inside it");
        Assert.That(prefix, Does.Contain("as CONFIG_MEMCG_SWAP"));
        Assert.That(list.TryGetReason("MEMCG", out _), Is.False);
        Assert.That(list.Warnings, Is.Empty, "the final newline is not an empty pattern");
    }

    [TestCase("CONFIG_X  # reason")]
    [TestCase("CONFIG_X=y")]
    [TestCase(" CONFIG_X")]
    [TestCase("CONFIG_X\r")]
    public void MalformedKataWhitelistLineIsBadInputWithFileAndLine(string line)
    {
        var error = Assert.Throws<KilnException>(() => AllowList.ParseKataWhitelist("# header\n" + line + "\n", "/k/whitelist.conf"));
        Assert.That(error!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.Message, Does.StartWith("/k/whitelist.conf:2:"));
    }

    [Test]
    public void ConfigsTreeCombinesKilnsListWithKatasWhitelists()
    {
        using var root = new TempDirectory();
        root.Write("allow-dropped.conf", "CONFIG_A  # Kiln's reason\n");
        root.Write("fragments/whitelist.conf", "CONFIG_B\n");
        root.Write("fragments/whitelist-6.1.192.conf", "CONFIG_C\n");
        root.Write("fragments/whitelist-6.12.117.conf", "CONFIG_D\n");
        var list = AllowList.ForConfigs(root.Path, "6.1.192");
        Assert.That(new[] { "A", "B", "C", "D" }.Select(s => list.TryGetReason(s, out _)), Is.EqualTo(new[] { true, true, true, false }));
        Assert.That(list.Sources, Has.Count.EqualTo(3));
    }

    [Test]
    public void RepositoryAllowListParses()
    {
        var path = Path.Combine(TestPaths.RepositoryRoot, "configs", "allow-dropped.conf");
        Assert.That(File.Exists(path), Is.True);
        Assert.DoesNotThrow(() => AllowList.Load(path));
    }
}
