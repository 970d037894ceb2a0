using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Boot;

/// <summary>What the host found on its side of the devices after the guest shut down.</summary>
public sealed record HostObservations(
    IReadOnlyDictionary<string, string> Tokens,
    IReadOnlyDictionary<string, string> Skipped,
    string? BlkSectorOne,
    string? NetRequestPath,
    IReadOnlyDictionary<string, string?> SharedFromGuest);

/// <summary>
/// The host side of one boot's devices: a disk image holding a fresh token (virtio-blk), a port on 127.0.0.1 that
/// QEMU's user network forwards to and that answers with a token (virtio-net), directories shared over 9p and, when
/// this host has virtiofsd and root, virtio-fs. Every token is new for the run and is not in the initramfs, so the
/// guest can only report it by reading the device. Devices the host cannot provide are not attached; their checks are
/// skipped with the reason. Dispose after QEMU exited: it stops the port and virtiofsd.
/// </summary>
public sealed class AttachedDevices : IDisposable
{
    public const string DiskImageName = "disk.img";
    private const int DiskBytes = 1024 * 1024;
    private const string NetDevice = "kilnnet";

    private readonly string _directory;
    private readonly Dictionary<string, string> _tokens = new();
    private readonly Dictionary<string, string> _skipped = new();
    private readonly List<string> _arguments = new();
    private readonly GuestNetServer? _net;
    private readonly Process? _virtiofsd;
    private readonly string? _virtiofsSocket;

    public IReadOnlyList<GuestDevice> Attached { get; }
    /// <summary>QEMU arguments that attach the devices (after the machine's own).</summary>
    public IReadOnlyList<string> QemuArguments => _arguments;
    /// <summary>virtio-fs needs the guest's RAM shared with virtiofsd: a memfd backend named in -M.</summary>
    public bool SharesMemory => _virtiofsd is not null;
    public const string SharedMemoryId = "kilnmem";

    private AttachedDevices(string directory, IReadOnlyList<GuestDevice> attached, GuestNetServer? net, Process? virtiofsd, string? virtiofsSocket)
    {
        _directory = directory;
        Attached = attached;
        _net = net;
        _virtiofsd = virtiofsd;
        _virtiofsSocket = virtiofsSocket;
    }

    /// <summary>
    /// Why this host's virtiofsd cannot serve a <paramref name="guest"/>, or null when it can: FUSE messages travel in the
    /// guest's byte order and with the guest's open(2) flags, and virtiofsd translates neither. Seen here: an s390x guest's
    /// open on the share failed with ECONNREFUSED, and a ppc64le guest's with EINVAL (powerpc's O_LARGEFILE, which every
    /// 64-bit open carries, is x86_64's O_DIRECTORY). arm64's O_LARGEFILE is x86_64's O_NOFOLLOW, which virtiofsd drops.
    /// </summary>
    internal static string? ForeignFuse(Arch guest)
    {
        if (guest.BigEndian == BitConverter.IsLittleEndian)
            return $"does not swap FUSE messages between byte orders, and the {guest.Name} guest's are {(guest.BigEndian ? "big" : "little")}-endian " +
                   $"on this {(BitConverter.IsLittleEndian ? "little" : "big")}-endian host";
        if (Arch.Host is { } host && guest.OpenLargeFile == host.OpenDirectory && guest.OpenLargeFile != host.OpenLargeFile)
            return $"passes the guest's open flags to the host unchanged, and the O_LARGEFILE every {guest.Name} open carries " +
                   $"(0x{guest.OpenLargeFile:x}) is O_DIRECTORY on this {host.Name} host";
        return null;
    }

    /// <summary>Prepares every device of <paramref name="profile"/> this host can provide, in <paramref name="directory"/>.</summary>
    public static AttachedDevices Prepare(MachineProfile profile, string directory, IKilnLog log)
    {
        Directory.CreateDirectory(directory);
        var skipped = new Dictionary<string, string>();
        var virtiofsd = VirtiofsdBinary.Find(out var whyNot);
        // virtio-fs carries FUSE messages in the guest's byte order, and virtiofsd reads them in its own: seen here, an
        // s390x guest's open on the share failed with ECONNREFUSED, an errno no FUSE server sent.
        if (virtiofsd is not null && ForeignFuse(profile.Arch) is { } foreign)
        {
            whyNot = $"virtiofsd ({virtiofsd.Path}) {foreign}";
            virtiofsd = null;
        }
        if (virtiofsd is null) skipped[GuestDevice.VirtioFsName] = whyNot!;
        skipped[GuestDevice.VsockName] = File.Exists("/dev/vhost-vsock")
            ? "Kiln does not attach vsock yet: its busybox guest has no vsock client to exchange data with (this host has /dev/vhost-vsock)"
            : "this host has no /dev/vhost-vsock (modprobe vhost_vsock; a container needs the device passed in)";

        Process? daemon = null;
        string? socket = null;
        if (virtiofsd is not null)
        {
            (daemon, socket, var failed) = virtiofsd.Start(SharedDirectory(directory, GuestDevice.VirtioFsName), log);
            if (failed is not null) skipped[GuestDevice.VirtioFsName] = failed;
        }

        var attached = GuestDevice.All.Where(d => !skipped.ContainsKey(d.Name)).ToList();
        GuestNetServer? net = attached.Contains(GuestDevice.Net) ? new GuestNetServer() : null;
        var devices = new AttachedDevices(directory, attached, net, daemon, socket);
        foreach (var (name, reason) in skipped) devices._skipped[name] = reason;
        foreach (var device in attached) devices.Attach(profile, device);
        return devices;
    }

    private static string SharedDirectory(string directory, string name) => Path.Combine(directory, "share-" + name);

    private void Attach(MachineProfile profile, GuestDevice device)
    {
        var token = GuestReport.NewNonce();
        _tokens[device.Name] = token;
        var qemuDevice = profile.QemuDevice(device);
        switch (device.Name)
        {
            case GuestDevice.BlkName:
            {
                var image = Path.Combine(_directory, DiskImageName);
                var bytes = new byte[DiskBytes];
                Encoding.ASCII.GetBytes(GuestDevice.BlkTokenPrefix + token + "\n").CopyTo(bytes, 0);
                File.WriteAllBytes(image, bytes);
                _arguments.AddRange(["-drive", $"file={QemuRunner.EscapeOption(image)},format=raw,if=none,id=kilnblk", "-device", $"{qemuDevice},drive=kilnblk"]);
                break;
            }
            case GuestDevice.NetName:
                // restrict=on: the guest reaches only what is forwarded, never the host's network.
                _arguments.AddRange(["-netdev", $"user,id={NetDevice},restrict=on,guestfwd=tcp:{GuestDevice.HostServiceAddress}:{GuestDevice.HostServicePort}-tcp:127.0.0.1:{_net!.Start(token)}",
                    "-device", $"{qemuDevice},netdev={NetDevice}"]);
                break;
            case GuestDevice.NinePName:
            {
                var share = WriteShare(device.Name, token);
                _arguments.AddRange(["-fsdev", $"local,id=kiln9p,path={QemuRunner.EscapeOption(share)},security_model=none",
                    "-device", $"{qemuDevice},fsdev=kiln9p,mount_tag={GuestDevice.NinePTag}"]);
                break;
            }
            case GuestDevice.VirtioFsName:
                WriteShare(device.Name, token);
                _arguments.AddRange(["-chardev", $"socket,id=kilnfs,path={QemuRunner.EscapeOption(_virtiofsSocket!)}",
                    "-device", $"{qemuDevice},chardev=kilnfs,tag={GuestDevice.VirtioFsTag}"]);
                break;
            default:
                throw new InvalidOperationException($"No host side for device {device.Name}");
        }
    }

    private string WriteShare(string name, string token)
    {
        var share = SharedDirectory(_directory, name);
        Directory.CreateDirectory(share);
        File.Delete(Path.Combine(share, GuestDevice.FromGuestFile));
        File.WriteAllText(Path.Combine(share, GuestDevice.ToGuestFile), token + "\n");
        return share;
    }

    /// <summary>The memory arguments: a shared memfd backend when virtio-fs is attached (virtiofsd maps the guest's RAM).</summary>
    public IReadOnlyList<string> MemoryArguments(MemorySize memory) => SharesMemory
        ? ["-object", $"memory-backend-memfd,id={SharedMemoryId},size={memory},share=on"]
        : [];

    /// <summary>What the guest left on the host's side; call after QEMU exited.</summary>
    public HostObservations Observe()
    {
        string? sectorOne = null;
        var image = Path.Combine(_directory, DiskImageName);
        if (_tokens.ContainsKey(GuestDevice.BlkName) && File.Exists(image))
        {
            using var disk = File.OpenRead(image);
            var sector = new byte[512];
            disk.Position = 512;
            disk.ReadExactly(sector);
            sectorOne = Encoding.ASCII.GetString(sector).TrimEnd('\0').TrimEnd('\n');
        }
        var shared = new Dictionary<string, string?>();
        foreach (var name in new[] { GuestDevice.NinePName, GuestDevice.VirtioFsName }.Where(_tokens.ContainsKey))
        {
            var file = Path.Combine(SharedDirectory(_directory, name), GuestDevice.FromGuestFile);
            shared[name] = File.Exists(file) ? File.ReadAllText(file).Trim() : null;
        }
        return new HostObservations(_tokens, _skipped, sectorOne, _net?.RequestPath, shared);
    }

    public void Dispose()
    {
        _net?.Dispose();
        if (_virtiofsd is not null)
        {
            // virtiofsd ends when QEMU disconnects; this is for a QEMU that never connected.
            if (!_virtiofsd.HasExited) _virtiofsd.Kill(entireProcessTree: true);
            _virtiofsd.WaitForExit(5000);
            _virtiofsd.Dispose();
        }
        if (_virtiofsSocket is not null) File.Delete(_virtiofsSocket);
    }

    /// <summary>
    /// The port QEMU's guestfwd connects to when it starts (one connection, kept open): it reads the guest's HTTP
    /// request (whose path carries the run's nonce) and answers with the net token and a Content-Length, so busybox
    /// wget ends without waiting for the connection to close (slirp does not pass a close of guestfwd's socket on).
    /// </summary>
    private sealed class GuestNetServer : IDisposable
    {
        private const int MaxRequestBytes = 8192;
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private Task? _serving;

        public string? RequestPath { get; private set; }

        public int Start(string token)
        {
            _listener.Start();
            _serving = ServeAsync(token, _stop.Token);
            return ((IPEndPoint)_listener.LocalEndpoint).Port;
        }

        private async Task ServeAsync(string token, CancellationToken stop)
        {
            try
            {
                using var client = await _listener.AcceptTcpClientAsync(stop);
                var stream = client.GetStream();
                var request = new List<byte>();
                var buffer = new byte[1024];
                while (request.Count < MaxRequestBytes && !Encoding.ASCII.GetString(request.ToArray()).Contains("\r\n\r\n"))
                {
                    var read = await stream.ReadAsync(buffer, stop);
                    if (read == 0) return;
                    request.AddRange(buffer.AsSpan(0, read).ToArray());
                }
                var requestLine = Encoding.ASCII.GetString(request.ToArray()).Split("\r\n")[0].Split(' ');
                RequestPath = requestLine.Length >= 2 ? requestLine[1] : null;
                var body = token + "\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n{body}"), stop);
                await stream.FlushAsync(stop);
                // Hold the connection until QEMU exits: closing it first could cut the answer short inside slirp.
                while (await stream.ReadAsync(buffer, stop) > 0) { }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // QEMU exited or the boot ended: what arrived so far is the observation.
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            try { _serving?.Wait(TimeSpan.FromSeconds(5)); }
            catch (AggregateException) { }
            _stop.Dispose();
        }
    }
}

/// <summary>A virtiofsd this host can run (QEMU's C daemon in /usr/lib/qemu, or the Rust one), and how to start it.</summary>
internal sealed class VirtiofsdBinary
{
    private static readonly string[] Candidates = ["/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd", "/usr/lib/virtiofsd"];

    private VirtiofsdBinary(string path) => Path = path;

    public string Path { get; }

    /// <summary>The daemon, or null with why not: none installed, or not root (it chroots into the shared directory).</summary>
    public static VirtiofsdBinary? Find(out string? whyNot)
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => System.IO.Path.Combine(d, "virtiofsd"));
        var path = onPath.Concat(Candidates).FirstOrDefault(File.Exists);
        whyNot = path is null
            ? "this host has no virtiofsd (Debian 12: qemu-system-common's /usr/lib/qemu/virtiofsd; Debian 13: the virtiofsd package)"
            : !Environment.IsPrivilegedProcess ? $"virtiofsd ({path}) needs root to share a directory, and Kiln is not running as root" : null;
        return whyNot is null ? new VirtiofsdBinary(path!) : null;
    }

    /// <summary>Starts the daemon on a socket in the temp directory (a socket path must stay under 108 bytes); waits for the socket.</summary>
    public (Process? Daemon, string? Socket, string? Failed) Start(string sharedDirectory, IKilnLog log)
    {
        Directory.CreateDirectory(sharedDirectory);
        var socket = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"kiln-virtiofs-{Guid.NewGuid():N}.sock");
        var rust = Help(log).Contains("--shared-dir", StringComparison.Ordinal);
        string[] arguments = rust
            ? [$"--socket-path={socket}", $"--shared-dir={sharedDirectory}", "--cache=never", "--sandbox=chroot"]
            : [$"--socket-path={socket}", "-o", $"source={sharedDirectory}", "-o", "cache=none", "-o", "sandbox=chroot"];
        var start = new ProcessStartInfo(Path, arguments) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        log.Verbose($"Starting {Path} {string.Join(' ', arguments)}");
        // A daemon for the boot's length, read by events rather than Command; started the same way, so it dies with Kiln.
        var daemon = ChildProcesses.Start(start);
        var stderr = new StringBuilder();
        daemon.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        daemon.OutputDataReceived += (_, _) => { };
        daemon.BeginErrorReadLine();
        daemon.BeginOutputReadLine();
        var watch = Stopwatch.StartNew();
        while (!File.Exists(socket) && !daemon.HasExited && watch.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(20);
        if (File.Exists(socket)) return (daemon, socket, null);
        if (!daemon.HasExited) daemon.Kill(entireProcessTree: true);
        daemon.WaitForExit();
        string why;
        lock (stderr) why = stderr.ToString().Trim();
        daemon.Dispose();
        return (null, null, $"virtiofsd ({Path}) did not start: {(why.Length > 0 ? why : "no socket after 5 s")}");
    }

    private string Help(IKilnLog log)
    {
        var help = new Command(Path, "--help") { AcceptedExitCodes = Enumerable.Range(0, 256).ToArray(), Purpose = "virtiofsd --help" }.Run(log);
        return help.StandardOutput + help.StandardError;
    }
}
