using System.Runtime.InteropServices;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.HostSetup;

/// <summary>
/// The static busybox that goes into the guest's initramfs. For the host's own arch it is Debian's
/// busybox-static (/bin/busybox); for another arch Kiln fetches busybox-static:&lt;arch&gt; with apt-get
/// download (dpkg multiarch) and keeps the binary in the cache.
/// </summary>
public static class GuestBusybox
{
    public const string HostBusybox = "/bin/busybox";

    public static string Locate(string arch, string cacheDir, bool mayInstall, IKilnLog log)
    {
        var debianArch = arch switch { "x86_64" => "amd64", "arm64" => "arm64", _ => throw KilnException.BadInput($"--arch={arch}: unknown architecture.") };
        var hostArch = RuntimeInformation.OSArchitecture switch { Architecture.X64 => "amd64", Architecture.Arm64 => "arm64", var a => a.ToString() };
        if (debianArch == hostArch) return HostBusybox;

        var cached = Path.Combine(cacheDir, "busybox", debianArch, "busybox");
        if (File.Exists(cached)) return cached;
        var package = $"busybox-static:{debianArch}";
        if (!mayInstall)
            throw KilnException.BadInput($"The {arch} guest needs {package}. Run as root or with --install-deps to let Kiln fetch it " +
                                         $"(dpkg --add-architecture {debianArch}; apt-get update; apt-get download {package}).");

        Apt.ThisRun.AddArchitecture(debianArch, log);
        var staging = Directory.CreateTempSubdirectory("kiln-busybox-").FullName;
        try
        {
            log.Info($"Fetching {package} for the guest initramfs");
            // apt's sandbox user cannot write into a root-owned temp dir; a world-writable one keeps it quiet.
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(staging, (UnixFileMode)0x1ff);
            Apt.ThisRun.Download(package, staging, log);
            var deb = Directory.GetFiles(staging, "*.deb").Single();
            new Command("dpkg-deb", "-x", deb, Path.Combine(staging, "root")) { Purpose = "dpkg-deb -x" }.Run(log);
            var binary = Path.Combine(staging, "root", "bin", "busybox");
            if (!File.Exists(binary)) throw new KilnException(ExitCodes.Infrastructure, $"{deb} has no bin/busybox");
            Directory.CreateDirectory(Path.GetDirectoryName(cached)!);
            var temp = cached + $".tmp-{Environment.ProcessId}";
            File.Copy(binary, temp, overwrite: true);
            File.Move(temp, cached, overwrite: true);
            return cached;
        }
        catch (CommandFailedException e)
        {
            throw new KilnException(ExitCodes.Infrastructure, $"Could not fetch {package} for the {arch} guest: {e.StandardErrorTail}", e);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }
}
