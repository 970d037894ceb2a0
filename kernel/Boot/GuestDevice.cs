using System.Security.Cryptography;
using System.Text;

namespace Kiln.Kernel.Boot;

/// <summary>
/// A virtio device BootTest attaches and the guest init exercises: its QEMU device on each transport, the kernel
/// options its check needs built in, the options the check exercises, and the busybox sh that checks it in the
/// guest. The guest script reports through <c>ck NAME ok|fail|na MESSAGE</c> and <c>ob NAME VALUE</c> (what it read
/// from the device); <see cref="DeviceChecks"/> compares that with what the host put on the device and finds
/// there after the boot. A new device is one entry in <see cref="All"/> plus its host side in <see cref="AttachedDevices"/>.
/// </summary>
public sealed record GuestDevice
{
    public required string Name { get; init; }
    /// <summary>QEMU's device model without its transport suffix (virtio-blk: virtio-blk-pci, -device, -ccw).</summary>
    public required string QemuModel { get; init; }
    /// <summary>Options the check needs built in (=y; the initramfs loads no modules), besides the transport's.</summary>
    public required IReadOnlyList<string> DriverOptions { get; init; }
    /// <summary>Requested options a run of this check exercises, for the "compiled, not exercised" list.</summary>
    public IReadOnlyList<string> ExercisedOptions { get; init; } = [];
    /// <summary>busybox sh run in the guest when the kernel has the driver; reports with ck and ob.</summary>
    public required string GuestScript { get; init; }

    public IEnumerable<string> AllOptions => DriverOptions.Concat(ExercisedOptions);

    // Names the host and the guest agree on.
    public const string BlkName = "virtio-blk";
    public const string NetName = "virtio-net";
    public const string NinePName = "9p";
    public const string VirtioFsName = "virtio-fs";
    public const string VsockName = "vsock";
    public const string NinePTag = "kiln9p";
    public const string VirtioFsTag = "kilnfs";
    /// <summary>The files a shared directory carries: the host's token in, the guest's copy out.</summary>
    public const string ToGuestFile = "to-guest";
    public const string FromGuestFile = "from-guest";
    public const string BlkTokenPrefix = "KILN-BLK ";
    public const string BlkGuestPrefix = "KILN-BLK-GUEST ";

    /// <summary>
    /// The path the guest's net check requests: the sha256 of the nonce (as <c>echo "$NONCE" | sha256sum</c> computes
    /// it), never the nonce itself, because busybox timeout's watchdog keeps wget's command line, URL and all, in
    /// /proc for up to a second after wget ends, when the first test script may already be running.
    /// </summary>
    public static string NetRequestPath(string nonce) => "/KILN/" + Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(nonce + "\n")));

    /// <summary>QEMU user networking's guest side (slirp's defaults) and the guestfwd address the host's port appears at.</summary>
    public const string SlirpGuestAddress = "10.0.2.15/24";
    public const string SlirpGateway = "10.0.2.2";
    public const string HostServiceAddress = "10.0.2.100";
    public const int HostServicePort = 1234;

    public static readonly GuestDevice Blk = new()
    {
        Name = BlkName, QemuModel = "virtio-blk",
        DriverOptions = ["CONFIG_VIRTIO_BLK"], ExercisedOptions = ["CONFIG_BLK_DEV"],
        GuestScript = $$"""
            if [ ! -b /dev/vda ]; then
              ck {{BlkName}} fail "step device: no /dev/vda (the virtio-blk driver did not bind the disk)"
            elif ! t=$(head -c 512 /dev/vda | tr -d '\000' | sed -n 's/^{{BlkTokenPrefix}}//p') || [ -z "$t" ]; then
              ck {{BlkName}} fail "step read: sector 0 of /dev/vda holds no Kiln token"
            elif ! printf '{{BlkGuestPrefix}}%s\n' "$t" | dd of=/dev/vda bs=512 seek=1 conv=notrunc,fsync 2>/tmp/kiln-err; then
              ck {{BlkName}} fail "step write: writing sector 1 of /dev/vda failed: $(cat /tmp/kiln-err)"
            else
              ob {{BlkName}} "$t"
              ck {{BlkName}} ok "read the host's token from sector 0 of /dev/vda and wrote it back to sector 1"
            fi
            """,
    };

    public static readonly GuestDevice Net = new()
    {
        Name = NetName, QemuModel = "virtio-net",
        DriverOptions = ["CONFIG_VIRTIO_NET", "CONFIG_INET"], ExercisedOptions = ["CONFIG_NETDEVICES"],
        // udhcpc needs packet sockets; a kernel without them gets slirp's fixed address instead, and says so.
        // Debian 12's busybox wget crashes with -T, so timeout bounds it.
        GuestScript = $$"""
            h=$(echo "$NONCE" | sha256sum); h=${h%% *}
            i=""
            for d in /sys/class/net/*; do
              case "$(readlink "$d/device/driver")" in */virtio_net) i=${d##*/} ;; esac
            done
            a=""
            if [ -z "$i" ]; then
              ck {{NetName}} fail "step interface: no network interface is bound to the virtio_net driver"
            elif ! ip link set "$i" up 2>/tmp/kiln-err; then
              ck {{NetName}} fail "step link: ip link set $i up failed: $(cat /tmp/kiln-err)"
            else
              if m=$(missing CONFIG_PACKET); then
                ip addr add {{SlirpGuestAddress}} dev "$i" && ip route add default via {{SlirpGateway}} &&
                  a="{{SlirpGuestAddress}} set statically ($m, which DHCP needs, is not set)"
              elif udhcpc -i "$i" -f -q -n -t 5 -T 1 -s /kiln/dhcp-event >/dev/null 2>&1 && [ -s /tmp/kiln-dhcp ]; then
                a="$(cat /tmp/kiln-dhcp) from DHCP (udhcpc)"
              fi
              if [ -z "$a" ]; then
                ck {{NetName}} fail "step address: $i got no address (udhcpc had no lease)"
              elif ! t=$(timeout 15 wget -q -O - "http://{{HostServiceAddress}}:{{HostServicePort}}/KILN/$h" 2>/tmp/kiln-err) || [ -z "$t" ]; then
                ck {{NetName}} fail "step tcp: no answer from the host's port at {{HostServiceAddress}}:{{HostServicePort}} (QEMU guestfwd): $(cat /tmp/kiln-err)"
              else
                ob {{NetName}} "$t"
                ck {{NetName}} ok "$i up, address $a, nonce exchanged over TCP with the host's port through QEMU's user network"
              fi
            fi
            """,
    };

    public static readonly GuestDevice NineP = new()
    {
        Name = NinePName, QemuModel = "virtio-9p",
        DriverOptions = ["CONFIG_NET_9P_VIRTIO", "CONFIG_9P_FS"], ExercisedOptions = ["CONFIG_NET_9P", "CONFIG_NETWORK_FILESYSTEMS"],
        GuestScript = ShareScript(NinePName, "9p", NinePTag, "-o trans=virtio,version=9p2000.L"),
    };

    public static readonly GuestDevice VirtioFs = new()
    {
        Name = VirtioFsName, QemuModel = "vhost-user-fs",
        DriverOptions = ["CONFIG_VIRTIO_FS"], ExercisedOptions = ["CONFIG_FUSE_FS"],
        GuestScript = ShareScript(VirtioFsName, "virtiofs", VirtioFsTag, ""),
    };

    /// <summary>Never attached yet (see <see cref="AttachedDevices"/>): listed so its check is reported as skipped with the reason.</summary>
    public static readonly GuestDevice Vsock = new()
    {
        Name = VsockName, QemuModel = "vhost-vsock",
        DriverOptions = ["CONFIG_VIRTIO_VSOCKETS"], ExercisedOptions = ["CONFIG_VSOCKETS"],
        GuestScript = "",
    };

    public static IReadOnlyList<GuestDevice> All { get; } = [Blk, Net, NineP, VirtioFs, Vsock];

    /// <summary>Mount a host directory shared under <paramref name="tag"/>, read the host's token, write it back.</summary>
    private static string ShareScript(string name, string fsType, string tag, string options) => $$"""
        mkdir -p /mnt/{{name}}
        if ! mount -t {{fsType}} {{options}} {{tag}} /mnt/{{name}} 2>/tmp/kiln-err; then
          ck {{name}} fail "step mount: mount -t {{fsType}} {{tag}} failed: $(cat /tmp/kiln-err)"
        else
          if ! t=$(cat /mnt/{{name}}/{{ToGuestFile}}) || [ -z "$t" ]; then
            ck {{name}} fail "step read: the share has no {{ToGuestFile}} file"
          elif ! echo "$t" > /mnt/{{name}}/{{FromGuestFile}}; then
            ck {{name}} fail "step write: cannot write {{FromGuestFile}} on the share"
          else
            ob {{name}} "$t"
            ck {{name}} ok "mounted the host directory (tag {{tag}}), read the host's token and wrote {{FromGuestFile}}"
          fi
          umount /mnt/{{name}}
        fi
        """;
}
