using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
namespace Kiln.Kernel.Boot;

/// <summary>A user test script: the name the guest reports it under and where it lives on the host.</summary>
public sealed record GuestTest(string Name, string HostPath)
{
    public string ImagePath => "/kiln/tests/" + Name;
}

/// <summary>What goes into a boot-test initramfs.</summary>
public sealed record InitramfsSpec
{
    public const string DefaultBusybox = "/bin/busybox";

    public required Arch Arch { get; init; }
    public required string Nonce { get; init; }
    public string BusyboxPath { get; init; } = DefaultBusybox;
    public IReadOnlyList<string> TestScripts { get; init; } = Array.Empty<string>();
    /// <summary>The devices QEMU attaches; the init checks each one its kernel has the driver for.</summary>
    public IReadOnlyList<GuestDevice> Devices { get; init; } = Array.Empty<GuestDevice>();
    /// <summary>The options the profile's virtio transport needs, checked with each device's driver options.</summary>
    public IReadOnlyList<string> TransportOptions { get; init; } = Array.Empty<string>();
    /// <summary>QEMU shares the host's / (<see cref="HostShares.RootTag"/>): init mounts it on /host for the test scripts.</summary>
    public bool HostRoot { get; init; }
    /// <summary>
    /// QEMU shares this host directory read-write (<see cref="HostShares.WorkTag"/>): init mounts it at the same path
    /// (under the host's / when that is shared too) and tells the test scripts where in KILN_RWDIR.
    /// </summary>
    public string? WritableDirectory { get; init; }
}

/// <summary>
/// Builds the gzip'd newc initramfs for a boot test: a static busybox, device nodes for the console
/// and the report device, the user's test scripts, and an init that reports through the report device
/// (see <see cref="GuestReport"/>) and ends with <c>reboot -f</c> (QEMU runs with -no-reboot, so that exits it).
/// The nonce is in <see cref="NonceFile"/>, which init reads and deletes before anything else runs; /init itself
/// does not carry it, so a test script that reads every file it can still does not know it.
/// </summary>
public sealed class InitramfsBuilder
{
    /// <summary>Where BootTest's init mounts the host's / for the test scripts (<see cref="InitramfsSpec.HostRoot"/>).</summary>
    public const string HostRootMount = "/host";

    /// <summary>Holds the run's nonce until init has read it (the path in the image, without the leading slash).</summary>
    public const string NonceFile = "kiln/nonce";

    private readonly IKilnLog _log;

    public InitramfsBuilder(IKilnLog log) => _log = log;

    /// <summary>Writes the initramfs to <paramref name="outputPath"/> atomically and returns the tests it runs, in order.</summary>
    public IReadOnlyList<GuestTest> Build(InitramfsSpec spec, string outputPath)
    {
        CheckBusybox(spec.BusyboxPath, spec.Arch);
        var tests = NameTests(spec.TestScripts);

        AtomicFile.Write(outputPath, (Stream file) =>
        {
            using var gzip = new GZipStream(file, CompressionLevel.Optimal);
            using var cpio = new CpioWriter(gzip);
            WriteTree(cpio, spec, tests);
        });
        _log.Verbose($"Wrote initramfs {outputPath} ({new FileInfo(outputPath).Length} bytes, {tests.Count} test script(s))");
        return tests;
    }

    /// <summary>
    /// Checks that <paramref name="path"/> is a statically linked ELF for the guest's architecture:
    /// the initramfs has no C library, so a dynamic busybox would fail as init with a confusing panic.
    /// </summary>
    public static void CheckBusybox(string path, Arch arch)
    {
        const string install = "Install the Debian package busybox-static (apt-get install busybox-static) or pass a static busybox.";
        if (!File.Exists(path))
            throw KilnException.BadInput($"busybox not found at {path}. {install}");

        var elf = ElfInfo.Read(path);
        if (elf is null)
            throw KilnException.BadInput($"{path} is not an ELF executable. {install}");
        if (elf.Value.Machine != arch.ElfMachine)
            throw KilnException.BadInput($"{path} is not built for {arch.Name} (ELF machine {elf.Value.Machine}); pass a static busybox for {arch.Name}.");
        if (elf.Value.HasInterpreter)
            throw KilnException.BadInput($"{path} is dynamically linked and cannot run as init in the initramfs. {install}");
    }

    private static IReadOnlyList<GuestTest> NameTests(IReadOnlyList<string> scripts)
    {
        var tests = new List<GuestTest>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var script in scripts)
        {
            if (!File.Exists(script)) throw KilnException.BadInput($"Test script not found: {script}");
            // The name travels in a space-separated report line and becomes a file name in the image.
            var baseName = Regex.Replace(Path.GetFileName(script), "[^A-Za-z0-9._-]", "_");
            var name = baseName;
            for (var n = 2; !used.Add(name); n++) name = $"{baseName}-{n}";
            tests.Add(new GuestTest(name, Path.GetFullPath(script)));
        }
        return tests;
    }

    /// <summary>
    /// What every Kiln initramfs holds before its init: the directories, the console and report device nodes, busybox as
    /// /bin/sh, and the nonce file.
    /// </summary>
    public static void WriteBase(CpioWriter cpio, Arch arch, string busyboxPath, string nonce)
    {
        foreach (var dir in new[] { "bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "mnt", "kiln", "kiln/tests" })
            cpio.AddDirectory(dir);
        // The kernel opens /dev/console for init before anything is mounted; the report device node
        // is here too so reporting works even if devtmpfs is not configured.
        cpio.AddCharDevice("dev/console", 5, 1);
        cpio.AddCharDevice("dev/" + arch.ReportDevice, arch.ReportDeviceMajor, arch.ReportDeviceMinor);
        cpio.AddFile("bin/busybox", File.ReadAllBytes(busyboxPath), 0x1ED);
        cpio.AddSymlink("bin/sh", "busybox");
        cpio.AddFile(NonceFile, nonce + "\n", 0x100 /* 0400 */);
    }

    private static void WriteTree(CpioWriter cpio, InitramfsSpec spec, IReadOnlyList<GuestTest> tests)
    {
        WriteBase(cpio, spec.Arch, spec.BusyboxPath, spec.Nonce);
        foreach (var test in tests)
            cpio.AddFile(test.ImagePath, File.ReadAllBytes(test.HostPath), 0x1ED);
        cpio.AddFile("kiln/dhcp-event", DhcpEventScript, 0x1ED);
        cpio.AddFile("init", InitScript(spec, tests), 0x1ED);
    }

    /// <summary>udhcpc's event script: it configures the lease itself, and leaves the address for the net check.</summary>
    internal const string DhcpEventScript = """
        #!/bin/sh
        case "$1" in
          bound|renew)
            ip addr add "$ip/$mask" dev "$interface"
            [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
            echo "$ip/$mask" > /tmp/kiln-dhcp ;;
        esac
        exit 0

        """;

    /// <summary>
    /// How every Kiln init starts: busybox's applets, the nonce read from its file and the file deleted, /proc, /sys and
    /// devtmpfs, the report device on fd 3 with its node removed, <c>k KIND FIELDS…</c> to report, start and uname
    /// reported, and <c>missing OPTION…</c>, which prints the first option the kernel does not have built in (false when
    /// all are, or the config is unknown).
    /// </summary>
    internal static string InitPrologue(Arch arch) => $$"""
        /bin/busybox --install -s
        export PATH=/sbin:/bin:/usr/sbin:/usr/bin
        read -r NONCE < /{{NonceFile}}
        rm -f /{{NonceFile}}
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev 2>/dev/null
        exec 3>/dev/{{arch.ReportDevice}}
        rm -f /dev/{{arch.ReportDevice}}
        k() { echo "{{GuestReport.Marker}} $NONCE $*" >&3; }
        k {{GuestReport.Kinds.Start}}
        k {{GuestReport.Kinds.Uname}} "$(uname -r)"
        zcat /proc/config.gz > /tmp/kconfig 2>/dev/null || rm -f /tmp/kconfig
        missing() {
          [ -s /tmp/kconfig ] || return 1
          for o in "$@"; do grep -q "^$o=y" /tmp/kconfig || { echo "$o"; return 0; }; done
          return 1
        }
        """;

    /// <summary>The guest's /init (busybox sh).</summary>
    internal static string InitScript(InitramfsSpec spec, IReadOnlyList<GuestTest> tests)
    {
        var arch = spec.Arch;
        var s = new StringBuilder();
        s.Append($$"""
            #!/bin/sh
            # Generated by Kiln. Reports go to /dev/{{arch.ReportDevice}}, never the console, each line
            # carrying this run's nonce, so kernel messages and test output cannot fake a result. Only this
            # shell knows the nonce (read from a file it deletes, in a variable it never exports) and only it
            # has the report device open (the node is removed): test scripts run with neither.
            {{InitPrologue(arch)}}
            if [ -r /proc/config.gz ]; then
              base64 /proc/config.gz | while read -r chunk; do k {{GuestReport.Kinds.Config}} "$chunk"; done
            else
              k {{GuestReport.Kinds.NoConfig}}
            fi
            ck() { n=$1; s=$2; shift 2; k {{GuestReport.Kinds.Check}} "$n" "$s" "$(echo "$*" | tr '\n' ' ')"; }
            ob() { k {{GuestReport.Kinds.Observed}} "$1" "$2"; }
            ob {{DeviceChecks.ObservedCpus}} "$(nproc)"
            ob {{DeviceChecks.ObservedMemTotal}} "$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"

            """);
        foreach (var device in spec.Devices)
        {
            var needs = string.Join(' ', device.DriverOptions.Concat(spec.TransportOptions));
            s.Append($"if m=$(missing {needs}); then\n  ck {device.Name} na \"$m is not set\"\nelse\n")
                .Append(device.GuestScript.TrimEnd()).Append("\nfi\n");
        }
        s.Append($$"""
            if m=$(missing CONFIG_CGROUPS); then
              ck {{DeviceChecks.Cgroup2}} na "$m is not set"
            else
              mkdir -p /sys/fs/cgroup
              if mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/tmp/kiln-err; then
                ck {{DeviceChecks.Cgroup2}} ok "mounted cgroup2 on /sys/fs/cgroup; controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
              else
                ck {{DeviceChecks.Cgroup2}} fail "mount -t cgroup2 failed: $(cat /tmp/kiln-err)"
              fi
            fi
            if m=$(missing CONFIG_NAMESPACES); then
              ck {{DeviceChecks.Namespaces}} na "$m is not set"
            else
              ok=""; bad=""; off=""
              # name:unshare flags:option; the mount namespace needs only CONFIG_NAMESPACES. busybox unshare has no
              # flag for the cgroup and time namespaces, so those are not tried.
              for ns in mount:-m:CONFIG_NAMESPACES uts:-u:CONFIG_UTS_NS ipc:-i:CONFIG_IPC_NS pid:-pf:CONFIG_PID_NS net:-n:CONFIG_NET_NS user:-U:CONFIG_USER_NS; do
                name=${ns%%:*}; rest=${ns#*:}; flag=${rest%%:*}; option=${rest#*:}
                if missing "$option" >/dev/null; then off="$off $name"
                elif unshare "$flag" true 2>/dev/null; then ok="$ok $name"
                else bad="$bad $name"; fi
              done
              if [ -n "$bad" ]; then
                ck {{DeviceChecks.Namespaces}} fail "unshare failed for:$bad (succeeded for:${ok:- none})"
              else
                ck {{DeviceChecks.Namespaces}} ok "unshare succeeded for:$ok; not in the kernel:${off:- none}"
              fi
            fi

            """);
        if (spec.HostRoot || spec.WritableDirectory is not null)
            s.Append($$"""
                warn() { echo "kiln: not shared with the tests: $*"; }
                {{HostShares.MountFunctions("warn")}}
                shares=$(missing {{string.Join(' ', (spec.HostRoot ? HostShares.RootOptions : HostShares.ShareOptions).Concat(spec.TransportOptions))}})

                """);
        if (spec.HostRoot)
            s.Append($$"""
                # The host's / for the test scripts: chroot "$KILN_HOST" CMD runs the host's programs in this kernel.
                if [ -n "$shares" ]; then
                  warn "the host's /: $shares is not set"
                elif mount_root {{HostRootMount}}; then
                  export KILN_HOST={{HostRootMount}}
                fi

                """);
        if (spec.WritableDirectory is { } rwdir)
            s.Append($$"""
                # --rwdir, at its own path: under the host's / when that is mounted, so chroot "$KILN_HOST" finds it there too.
                if [ -n "$shares" ]; then
                  warn "--rwdir: $shares is not set"
                elif share {{HostShares.WorkTag}} "$KILN_HOST"{{Processes.Command.Quote(rwdir)}} ""; then
                  export KILN_RWDIR="$KILN_HOST"{{Processes.Command.Quote(rwdir)}}
                fi

                """);
        s.Append($$"""
            run_test() {
              k {{GuestReport.Kinds.Begin}} "$1"
              echo "kiln: running test $1"
              start=$(cut -d' ' -f1 /proc/uptime)
              sh "$2" 3>&- </dev/console
              rc=$?
              end=$(cut -d' ' -f1 /proc/uptime)
              echo "kiln: test $1 exited with $rc"
              k {{GuestReport.Kinds.Test}} "$1" "$rc" "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')"
            }

            """);
        foreach (var test in tests)
            s.Append($"run_test {test.Name} {test.ImagePath}\n");
        s.Append($$"""
            k {{GuestReport.Kinds.Done}}
            # Closing the last handle on the tty waits until its output has drained to the host.
            exec 3>&-
            reboot -f

            """);
        return s.ToString();
    }

    /// <summary>The two facts about an ELF file that decide whether busybox can be init.</summary>
    private readonly record struct ElfInfo(ushort Machine, bool HasInterpreter)
    {
        private const uint PtInterp = 3;

        /// <summary>Reads a 64-bit ELF of either byte order (s390x is big-endian); null for anything else.</summary>
        public static ElfInfo? Read(string path)
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length < 64 || bytes[0] != 0x7F || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F') return null;
            // Only 64-bit ELF (EI_CLASS 2) is a candidate for the guests Kiln boots; EI_DATA 1 is little-endian, 2 big-endian.
            if (bytes[4] != 2 || bytes[5] is not (1 or 2)) return null;
            var little = bytes[5] == 1;
            ushort U16(long at) => little ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)at)) : BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan((int)at));
            uint U32(long at) => little ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)at)) : BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan((int)at));
            long I64(long at) => little ? BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan((int)at)) : BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan((int)at));
            var machine = U16(18);
            var phoff = I64(32);
            var phentsize = U16(54);
            var phnum = U16(56);
            for (var i = 0; i < phnum; i++)
            {
                var entry = phoff + (long)i * phentsize;
                if (entry < 0 || entry + 4 > bytes.Length) return null;
                if (U32(entry) == PtInterp) return new ElfInfo(machine, true);
            }
            return new ElfInfo(machine, false);
        }
    }
}
