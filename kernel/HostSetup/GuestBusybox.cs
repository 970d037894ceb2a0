using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;
using Kiln.Kernel.IO;
namespace Kiln.Kernel.HostSetup;

/// <summary>
/// The static busybox that goes into the guest's initramfs. For the host's own arch it is Debian's
/// busybox-static (/bin/busybox); for another arch Kiln fetches busybox-static:&lt;arch&gt; with apt-get
/// download (dpkg multiarch), or builds it from Debian's source where Debian 12 has no such package
/// (<see cref="BusyboxSourceBuild"/>), and keeps the binary in the cache.
/// </summary>
public static class GuestBusybox
{
    public const string HostBusybox = "/bin/busybox";

    public static string Locate(Arch arch, string cacheDir, bool mayInstall, IKilnLog log)
    {
        if (arch.IsHost) return HostBusybox;
        var debianArch = arch.DebianArch;

        var cached = KilnPaths.Busybox(cacheDir, arch);
        if (File.Exists(cached)) return cached;
        if (!arch.DebianBusybox)
        {
            if (!mayInstall)
                throw KilnException.BadInput($"The {arch} guest needs a static busybox, and Debian 12 has no busybox-static:{debianArch}. Run as root or " +
                                             $"with --install-deps to let Kiln build Debian's busybox source with {arch.CrossPrefix}gcc, or put a static {arch} busybox at {cached}.");
            BusyboxSourceBuild.Build(arch, cached, Environment.ProcessorCount, log);
            return cached;
        }
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
            AtomicFile.Copy(binary, cached);
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
