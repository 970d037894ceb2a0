using Kiln.Kernel;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;
using NUnit.Framework;

namespace Kiln.Tests.Config;

/// <summary>
/// Kata fidelity on a real tree: Kiln's Configure against the kernel's own merge_config.sh -r -n run the way
/// Kata's build-kernel.sh runs it (its fragment selection and whitelist check, reproduced below in bash from
/// get_kernel_frag_path), on a fragment tree laid out like Kata's. The fixtures are Kiln's own, not Kata's files.
/// The tree is $KILN_TEST_KERNEL_SRC or the shared test build's Debian 6.1 source.
/// </summary>
[Category("Integration")]
public class KataFidelityIntegrationTests
{
    /// <summary>
    /// Kata's algorithm, reduced to the config step: build-kernel.sh's fragment selection (grep -L for !tags over
    /// common/, ls of the arch folder, find under build-type/NAME, the confidential folder and tmpfs.conf), then
    /// merge_config.sh -r -n, then "not in final" minus grep -v -f of whitelist.conf and whitelist-VERSION.conf.
    /// It runs in an object directory whose Makefile includes the tree's, as kbuild's own O= directories do,
    /// so the shared source tree is never written to.
    /// </summary>
    private const string KataReferenceScript = """
        set -o errexit -o nounset -o pipefail
        configs=$1 src=$2 arch=$3 out=$4 build_type=$5 conf_guest=$6 kernel_version=$7
        arch_path=$configs/fragments/$arch
        common_path=$arch_path/../common
        whitelist=$configs/fragments/whitelist.conf
        arch_configs="$(ls "$arch_path"/*.conf)"
        exclude_tags="-e !$arch"
        [ -n "$conf_guest" ] && exclude_tags="$exclude_tags -e !$conf_guest"
        common_configs="$(grep $exclude_tags "$common_path"/*.conf -L || true)"
        all_configs="$common_configs $arch_configs"
        [ -n "$build_type" ] && all_configs="$all_configs $(find "$arch_path/../build-type/$build_type" -name '*.conf' | LC_ALL=C sort)"
        [ -n "$conf_guest" ] && all_configs="$all_configs $(ls "$arch_path/$conf_guest"/*.conf) $common_path/confidential_containers/tmpfs.conf"
        mkdir -p "$out"
        echo "include $src/Makefile" > "$out/Makefile"
        cd "$out"
        results=$(ARCH=$arch KCONFIG_CONFIG=$out/.config.generated "$src/scripts/kconfig/merge_config.sh" -r -n $all_configs)
        results=$(grep "not in final" <<< "$results" || true)
        grep -o 'CONFIG_[A-Za-z0-9_]*' <<< "$results" > "$out/not-in-final" || true
        results=$(grep -v -f "$whitelist" <<< "$results" || true)
        [ -f "${whitelist%.*}-$kernel_version.conf" ] && results=$(grep -v -f "${whitelist%.*}-$kernel_version.conf" <<< "$results" || true)
        if echo "$results" | grep -v -q "not in final"; then echo pass > "$out/verdict"; else echo fail > "$out/verdict"; fi
        """;

    private string _source = null!;
    private string _version = null!;
    private TempDirectory _work = null!;

    [OneTimeSetUp]
    public void FindTree()
    {
        _source = Kiln.Tests.Integration.TestKernel.SourceTree;
        var makefile = File.ReadAllLines(Path.Combine(_source, "Makefile"));
        string Field(string name) => makefile.First(l => l.StartsWith(name + " =")).Split('=')[1].Trim();
        _version = $"{Field("VERSION")}.{Field("PATCHLEVEL")}.{Field("SUBLEVEL")}";
    }

    [SetUp]
    public void CreateWorkDirectory() => _work = new TempDirectory();

    [TearDown]
    public void RemoveWorkDirectory() => _work.Dispose();

    /// <summary>
    /// Kiln's fixture in Kata's layout. It exercises each rule: a !x86_64 tag and a !confidential tag in common/,
    /// an option whose default is y that no fragment sets (IPV6, under INET), a removed option the whitelist allows
    /// by prefix (MEMCG_SWAP covers MEMCG_SWAP_ENABLED), a comment naming an option (which merge_config.sh reports
    /// as not in final) allowed by the versioned whitelist, build-type and confidential folders.
    /// </summary>
    private string WriteKataTree(string? buildTypeExtra = null)
    {
        var configs = Path.Combine(_work.Path, "configs");
        void Write(string relative, string text) => _work.Write(Path.Combine("configs", "fragments", relative), text);
        Write("common/base.conf", "# Basic necessary items!\nCONFIG_PRINTK=y\nCONFIG_TTY=y\nCONFIG_BLK_DEV_INITRD=y\n");
        Write("common/network.conf", "CONFIG_NET=y\nCONFIG_INET=y\nCONFIG_UNIX=y\nCONFIG_NETDEVICES=y\n");
        Write("common/cgroup.conf", "CONFIG_CGROUPS=y\nCONFIG_MEMCG=y\nCONFIG_MEMCG_SWAP=y\nCONFIG_MEMCG_SWAP_ENABLED=y\n");
        Write("common/arm-only.conf", "# !x86_64 !s390x\nCONFIG_ARM_ONLY_OPTION=y\n");
        Write("common/virtio-extras.conf", "# !confidential\nCONFIG_VIRTIO_BALLOON=y\n");
        Write("common/confidential_containers/tmpfs.conf", "CONFIG_SHMEM=y\nCONFIG_TMPFS=y\n");
        Write("x86_64/base.conf", "# CONFIG_EXPERT needs restoring in these:\nCONFIG_EXPERT=y\nCONFIG_64BIT=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\n");
        Write("x86_64/pci.conf", "CONFIG_PCI=y\nCONFIG_VIRTIO_MENU=y\nCONFIG_VIRTIO_PCI=y\n");
        Write("x86_64/confidential/guest.conf", "CONFIG_HYPERVISOR_GUEST=y\nCONFIG_PARAVIRT=y\n");
        Write("build-type/lean/lean.conf", "# CONFIG_IPV6 is not set\n" + (buildTypeExtra ?? ""));
        Write("build-type/lean/more/net.conf", "CONFIG_PACKET=y\n");
        Write("whitelist.conf", "# options which may be dropped\nCONFIG_MEMCG_SWAP\n");
        Write($"whitelist-{_version}.conf", "# named in a comment of x86_64/base.conf\nCONFIG_EXPERT\n");
        return configs;
    }

    private (string Config, string[] NotInFinal, string Verdict) RunKata(string configs, string buildType, string confGuest)
    {
        var script = _work.Write("kata-reference.sh", KataReferenceScript);
        var output = Path.Combine(_work.Path, "kata-" + Guid.NewGuid().ToString("N")[..6]);
        new Command("bash", script, configs, _source, "x86_64", output, buildType, confGuest, _version) { Purpose = "Kata's algorithm" }
            .Run(new RecordingLog());
        return (File.ReadAllText(Path.Combine(output, ".config.generated")),
            File.ReadAllLines(Path.Combine(output, "not-in-final")).Select(l => l["CONFIG_".Length..]).ToArray(),
            File.ReadAllText(Path.Combine(output, "verdict")).Trim());
    }

    private ConfigureResult RunKiln(string configs, string buildType, string confGuest)
    {
        var fragments = FragmentSet.Select(Path.Combine(configs, "fragments"),
            new FragmentSelection(Arch.X86_64) { BuildType = buildType, ConfGuest = confGuest });
        return new KernelConfigurator(new RecordingLog()).Configure(
            new ConfigureRequest(_source, Path.Combine(_work.Path, "kiln-" + Guid.NewGuid().ToString("N")[..6]), Arch.X86_64, fragments)
            {
                BaseConfig = "allnoconfig",
                AllowList = AllowList.ForConfigs(configs, _version),
            });
    }

    [Test]
    public void KataLayoutGivesKatasConfigAndVerdict()
    {
        var configs = WriteKataTree();

        var kata = RunKata(configs, "", "");
        var kiln = RunKiln(configs, "", "");

        Assert.That(File.ReadAllText(kiln.ConfigPath), Is.EqualTo(kata.Config), "byte for byte what merge_config.sh -r -n makes");
        Assert.That(kiln.Verification.Dropped.Select(d => d.Request.Symbol), Is.EquivalentTo(kata.NotInFinal));
        Assert.That(kata.NotInFinal, Is.SupersetOf(new[] { "MEMCG_SWAP", "MEMCG_SWAP_ENABLED", "EXPERT" }), "the fixture exercises the whitelist rules");
        Assert.That(kata.Verdict, Is.EqualTo("pass"));
        Assert.That(kiln.Verification.Succeeded, Is.True, () => kiln.Verification.Describe());
        Assert.That(kiln.Config.Get("IPV6"), Is.EqualTo("n"), "default y, set by no fragment: off under allnoconfig semantics");
        Assert.That(kiln.Config.Get("ARM_ONLY_OPTION"), Is.Null);
        Assert.That(kiln.Config.Get("VIRTIO_BALLOON"), Is.EqualTo("y"));
        var expert = kiln.Verification.AllowedDrops.Single(d => d.Request.Symbol == "EXPERT");
        Assert.That(expert.Reason, Is.EqualTo(DropReason.WrittenOtherwise));
        Assert.That(expert.Summary, Does.Contain("'# CONFIG_EXPERT needs restoring in these:'"));
        Assert.That(kiln.Verification.AllowedDrops.Single(d => d.Request.Symbol == "MEMCG_SWAP_ENABLED").AllowedBecause,
            Does.Contain("as CONFIG_MEMCG_SWAP"));
    }

    [Test]
    public void BuildTypeAndConfidentialGuestFailOnTheSameOptionAsKata()
    {
        var configs = WriteKataTree(buildTypeExtra: "CONFIG_VIRTIO_NET=y\n");

        var kata = RunKata(configs, "lean", "confidential");
        var kiln = RunKiln(configs, "lean", "confidential");

        Assert.That(File.ReadAllText(kiln.ConfigPath), Is.EqualTo(kata.Config), "byte for byte what merge_config.sh -r -n makes");
        Assert.That(kiln.Verification.Dropped.Select(d => d.Request.Symbol), Is.EquivalentTo(kata.NotInFinal));
        Assert.That(kata.Verdict, Is.EqualTo("fail"));
        Assert.That(kiln.Verification.Succeeded, Is.False);
        var failure = kiln.Verification.Failures.Single();
        Assert.That(failure.Request.Symbol, Is.EqualTo("VIRTIO_NET"), "NET_CORE is off under allnoconfig semantics");
        Assert.That(failure.Summary, Does.Contain("build-type/lean/lean.conf:2"));
        Assert.That(kiln.Config.Get("IPV6"), Is.EqualTo("n"));
        Assert.That(kiln.Config.Get("VIRTIO_BALLOON"), Is.EqualTo("n"), "virtio-extras.conf is tagged !confidential");
        Assert.That(kiln.Config.Get("PARAVIRT"), Is.EqualTo("y"));
        Assert.That(kiln.Config.Get("TMPFS"), Is.EqualTo("y"));
        Assert.That(kiln.Config.Get("PACKET"), Is.EqualTo("y"), "build-type folders are read recursively, like find");
    }

    [Test]
    public void TinyconfigIsAllnoconfigWithTheTinyFragmentsFirst()
    {
        var fragments = FragmentSet.Select(Path.Combine(TestPaths.RepositoryRoot, "configs", "fragments"), Arch.X86_64);
        var kiln = new KernelConfigurator(new RecordingLog()).Configure(
            new ConfigureRequest(_source, Path.Combine(_work.Path, "kiln"), Arch.X86_64, fragments));

        var tiny = KernelConfigurator.TinyFragments(_source, Arch.X86_64).Select(t => t.Path);
        var output = Path.Combine(_work.Path, "reference");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "Makefile"), $"include {_source}/Makefile\n");
        new Command(Path.Combine(_source, "scripts", "kconfig", "merge_config.sh"),
            new[] { "-n" }.Concat(tiny).Concat(fragments.Fragments.Select(f => f.Path)).ToArray())
        {
            WorkingDirectory = output,
            Environment = { ["ARCH"] = "x86_64", ["KCONFIG_CONFIG"] = Path.Combine(output, ".config") },
            Purpose = "merge_config.sh -n",
        }.Run(new RecordingLog());

        Assert.That(File.ReadAllText(kiln.ConfigPath), Is.EqualTo(File.ReadAllText(Path.Combine(output, ".config"))));
        Assert.That(kiln.Config.Get("CC_OPTIMIZE_FOR_SIZE"), Is.EqualTo("y"), "the kernel's tiny.config");
    }
}
