
namespace Kiln.Kernel.Boot;

/// <summary>
/// Host directories a guest mounts over 9p: the host's / read-only, which Run, Shell, Kselftest and BootTest's --test
/// scripts run the host's programs from, and one directory read-write (Run's working directory, BootTest's --rwdir).
/// One QEMU declaration and one mount script serve them all.
/// </summary>
public static class HostShares
{
    public const string RootTag = "kilnroot";
    public const string WorkTag = "kilncwd";
    /// <summary>The directories that get a tmpfs over the read-only root, as virtme-ng gives them, so programs can write there.</summary>
    public static IReadOnlyList<string> WritableDirectories { get; } = ["/tmp", "/run", "/var/tmp", "/var/log"];
    /// <summary>What the guest's kernel needs built in to mount the host's root and give it /dev and writable directories.</summary>
    public static IReadOnlyList<string> RootOptions { get; } = ["CONFIG_9P_FS", "CONFIG_NET_9P_VIRTIO", "CONFIG_DEVTMPFS", "CONFIG_TMPFS"];
    /// <summary>What mounting one shared directory needs built in.</summary>
    public static IReadOnlyList<string> ShareOptions { get; } = ["CONFIG_9P_FS", "CONFIG_NET_9P_VIRTIO"];
    private const string NinePOptions = "trans=virtio,version=9p2000.L,msize=262144";

    /// <summary>QEMU's -fsdev and -device for sharing <paramref name="path"/> under <paramref name="tag"/> on the profile's virtio transport.</summary>
    public static IReadOnlyList<string> QemuArguments(MachineProfile profile, string tag, string path, bool readOnly) =>
    [
        // security_model=none: files keep the host's owners and modes, and what the guest creates belongs to whoever runs
        // QEMU; multidevs=remap keeps inode numbers unique across the host's mounts under the shared path.
        "-fsdev", $"local,id={tag},path={QemuRunner.EscapeOption(path)},security_model=none,multidevs=remap" + (readOnly ? ",readonly=on" : ""),
        "-device", $"{profile.QemuDevice(GuestDevice.NineP)},fsdev={tag},mount_tag={tag}",
    ];

    /// <summary>
    /// busybox sh defining <c>share TAG DIR [,OPTIONS]</c>, which mounts a share (creating DIR where it can), and
    /// <c>mount_root DIR</c>, which mounts the host's / read-only there with the guest's own /proc, /sys, /dev (devtmpfs,
    /// devpts, /dev/shm) and a tmpfs on each writable directory. Both call <paramref name="onFailure"/> with the reason.
    /// </summary>
    public static string MountFunctions(string onFailure) => $$"""
        share() {
          mkdir -p "$2" 2>/dev/null
          mount -t 9p -o {{NinePOptions}}$3 "$1" "$2" 2>/tmp/kiln-err || { {{onFailure}} "mounting the host's 9p share $1 on $2 failed: $(cat /tmp/kiln-err)"; return 1; }
        }
        mount_root() {
          share {{RootTag}} "$1" ,ro || return 1
          for d in proc sys dev; do [ -d "$1/$d" ] || { {{onFailure}} "the host has no /$d to mount the guest's own on"; return 1; }; done
          mount -t proc proc "$1/proc"
          mount -t sysfs sysfs "$1/sys"
          mount -t devtmpfs devtmpfs "$1/dev" || { {{onFailure}} "mounting devtmpfs on the host's /dev failed"; return 1; }
          mkdir -p "$1/dev/pts" "$1/dev/shm"
          mount -t devpts devpts "$1/dev/pts" 2>/dev/null
          mount -t tmpfs tmpfs "$1/dev/shm"
          for d in {{string.Join(' ', WritableDirectories)}}; do [ -d "$1$d" ] && mount -t tmpfs tmpfs "$1$d"; done
          return 0
        }
        """;
}
