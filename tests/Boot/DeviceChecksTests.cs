using Kiln.Kernel;
using Kiln.Kernel.Boot;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

/// <summary>The host's verdict on the machine checks, from a guest report and what the host found on its side.</summary>
public class DeviceChecksTests
{
    private const string Nonce = "00112233445566ff";
    private static readonly MachineSetup Q35 = MachineSetup.Default(Arch.X86_64);

    private static readonly Dictionary<string, string> Tokens = new()
    {
        [GuestDevice.BlkName] = "b10c", [GuestDevice.NetName] = "ne7", [GuestDevice.NinePName] = "9999",
    };

    /// <summary>Stands for the path the guest requests in this run (not a constant: a hash of the nonce).</summary>
    private const string ThisRunsNetPath = "(this run's path)";

    private static HostObservations Host(string? sectorOne = "KILN-BLK-GUEST b10c", string? netPath = ThisRunsNetPath, string? nineP = "9999") => new(
        Tokens,
        new Dictionary<string, string> { [GuestDevice.VirtioFsName] = "no virtiofsd", [GuestDevice.VsockName] = "no /dev/vhost-vsock" },
        sectorOne, netPath == ThisRunsNetPath ? GuestDevice.NetRequestPath(Nonce) : netPath, new Dictionary<string, string?> { [GuestDevice.NinePName] = nineP });

    private static readonly Dictionary<string, string> FullConfig = new()
    {
        ["CONFIG_SMP"] = "y", ["CONFIG_VIRTIO_PCI"] = "y", ["CONFIG_VIRTIO_BLK"] = "y", ["CONFIG_VIRTIO_NET"] = "y", ["CONFIG_INET"] = "y",
        ["CONFIG_NET_9P_VIRTIO"] = "y", ["CONFIG_9P_FS"] = "y", ["CONFIG_CGROUPS"] = "y", ["CONFIG_NAMESPACES"] = "y",
    };

    private static GuestReport Report(params string[] lines) =>
        GuestReport.Parse(lines.Select(l => $"KILN {Nonce} {l}"), Nonce);

    private static readonly string[] GoodGuest =
    [
        "observed nproc 2", "observed memtotal-kib 2055908",
        "observed virtio-blk b10c", "check virtio-blk ok read the token",
        "observed virtio-net ne7", "check virtio-net ok eth0 up",
        "observed 9p 9999", "check 9p ok mounted",
        "check cgroup2 ok mounted cgroup2", "check namespaces ok unshare succeeded for: mount uts",
    ];

    private static Dictionary<string, BootCheck> Judge(GuestReport report, IReadOnlyDictionary<string, string>? config, HostObservations host, MachineSetup? machine = null) =>
        DeviceChecks.Judge(machine ?? Q35, report, config, host).ToDictionary(c => c.Name);

    [Test]
    public void A_working_guest_passes_every_check_the_host_can_provide_and_skips_the_rest_with_the_reason()
    {
        var checks = Judge(Report(GoodGuest), FullConfig, Host());

        Assert.That(checks.Keys, Is.EqualTo(new[] { "smp", "memory", "virtio-blk", "virtio-net", "9p", "virtio-fs", "vsock", "cgroup2", "namespaces" }));
        Assert.That(checks.Values.Where(c => c.Status != CheckStatus.Pass).Select(c => (c.Name, c.Status, c.Message)), Is.EqualTo(new[]
        {
            ("virtio-fs", CheckStatus.Skipped, "no virtiofsd"),
            ("vsock", CheckStatus.Skipped, "no /dev/vhost-vsock"),
        }));
        Assert.That(checks["memory"].Message, Does.Contain("MemTotal 2007 MiB of --memory 2048 MiB"));
    }

    [Test]
    public void A_guest_cannot_pass_a_device_without_the_host_s_token_or_without_the_host_seeing_its_answer()
    {
        var forged = Report(GoodGuest.Select(l => l == "observed virtio-blk b10c" ? "observed virtio-blk 0000" : l).ToArray());
        Assert.That(Judge(forged, FullConfig, Host())["virtio-blk"].Message, Does.Contain("not the token the host put on the virtio-blk device"));

        var checks = Judge(Report(GoodGuest), FullConfig, Host(sectorOne: "", netPath: null, nineP: null));
        Assert.That(checks["virtio-blk"].Failed && checks["virtio-net"].Failed && checks["9p"].Failed, Is.True);
        Assert.That(checks["virtio-net"].Message, Is.EqualTo("the host's port never received the guest's request"));
        Assert.That(checks["9p"].Message, Does.Contain("no from-guest"));
    }

    [Test]
    public void Not_applicable_only_when_the_kernel_s_config_lacks_the_driver()
    {
        var guest = GoodGuest.Where(l => !l.Contains("virtio-net")).Append("check virtio-net na CONFIG_VIRTIO_NET is not set").ToArray();

        var without = new Dictionary<string, string>(FullConfig);
        without.Remove("CONFIG_VIRTIO_NET");
        var net = Judge(Report(guest), without, Host())["virtio-net"];
        Assert.That((net.Status, net.Message), Is.EqualTo((CheckStatus.NotApplicable, "CONFIG_VIRTIO_NET is not set")));
        Assert.That(net.Failed || net.Passed, Is.False, "neither a pass nor a failure");

        var lying = Judge(Report(guest), FullConfig, Host())["virtio-net"];
        Assert.That(lying.Failed, Is.True, "the config has the driver, so the guest had no reason to skip");
    }

    [Test]
    public void A_failing_step_fails_the_device_and_a_check_the_guest_never_reached_fails_too()
    {
        var guest = GoodGuest.Where(l => !l.Contains("virtio-net") && !l.Contains("namespaces"))
            .Append("check virtio-net fail step interface: no network interface is bound to the virtio_net driver").ToArray();
        var checks = Judge(Report(guest), FullConfig, Host());

        Assert.That(checks["virtio-net"].Message, Does.StartWith("step interface"));
        Assert.That(checks["namespaces"].Message, Does.StartWith("not reported"));
    }

    [Test]
    public void Smp_is_not_applicable_on_a_uniprocessor_kernel_and_memory_must_be_within_10_percent()
    {
        var noSmp = new Dictionary<string, string>(FullConfig);
        noSmp.Remove("CONFIG_SMP");
        var guest = GoodGuest.Select(l => l.StartsWith("observed nproc") ? "observed nproc 1" : l).ToArray();
        var smp = Judge(Report(guest), noSmp, Host())["smp"];
        Assert.That((smp.Status, smp.Message), Is.EqualTo((CheckStatus.NotApplicable, "CONFIG_SMP is not set: the kernel runs on 1 of the 2 vCPUs (nproc 1)")));
        Assert.That(Judge(Report(guest), FullConfig, Host())["smp"].Failed, Is.True, "an SMP kernel must see every vCPU");

        var small = GoodGuest.Select(l => l.StartsWith("observed memtotal") ? "observed memtotal-kib 1800000" : l).ToArray();
        Assert.That(Judge(Report(small), FullConfig, Host())["memory"].Message, Does.EndWith("not within 10%"));
    }

    [Test]
    public void Requested_virtio_options_no_check_exercised_are_listed()
    {
        var checks = DeviceChecks.Judge(Q35, Report(GoodGuest), FullConfig, Host());
        var requested = new[] { "CONFIG_VIRTIO_PCI", "CONFIG_VIRTIO_MENU", "CONFIG_VIRTIO_BLK", "CONFIG_VIRTIO_CONSOLE", "CONFIG_VIRTIO_NET",
            "CONFIG_VIRTIO_FS", "CONFIG_FUSE_FS", "CONFIG_VIRTIO_VSOCKETS", "CONFIG_VSOCKETS", "CONFIG_NET_9P_VIRTIO", "CONFIG_PRINTK" };

        Assert.That(DeviceChecks.NotExercised(requested, checks, Q35.Profile),
            Is.EqualTo(new[] { "CONFIG_VIRTIO_CONSOLE", "CONFIG_VIRTIO_FS", "CONFIG_FUSE_FS", "CONFIG_VIRTIO_VSOCKETS", "CONFIG_VSOCKETS" }));
        Assert.That(DeviceChecks.NotExercised(requested, checks, MachineProfile.Default(Arch.Arm64)), Does.Not.Contain("CONFIG_VIRTIO_CONSOLE"),
            "arm64's report channel is a virtio console");
    }

    [Test]
    public void The_net_check_wants_the_hash_of_the_nonce_not_the_nonce_which_a_test_could_then_read_in_proc()
    {
        Assert.That(GuestDevice.NetRequestPath(Nonce), Does.Match("^/KILN/[0-9a-f]{64}$").And.Not.Contain(Nonce));
        var net = Judge(Report(GoodGuest), FullConfig, Host(netPath: "/KILN/" + Nonce))["virtio-net"];
        Assert.That(net.Failed, Is.True);
        Assert.That(net.Message, Does.Contain("not the hash of this run's nonce"));
    }
}
