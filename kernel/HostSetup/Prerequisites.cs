using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.HostSetup;

/// <summary>A host requirement: a program on PATH or a file, and the Debian package that provides it.</summary>
public sealed record Prerequisite(string What, string Package, Func<bool> IsPresent);

/// <summary>Checks the host for what building and booting need, and installs what is missing with apt-get.</summary>
public static class Prerequisites
{
    /// <param name="distcc">A build farm was requested: the distcc client must be here (the farm may still be down).</param>
    /// <param name="docker">--runtime=docker: the docker client, and debootstrap to make the builder image.</param>
    /// <param name="kselftest">--kselftest: the selftests' make install copies with rsync (tools/testing/selftests/lib.mk).</param>
    public static IReadOnlyList<Prerequisite> For(Arch arch, bool distcc = false, bool docker = false, Toolchain? toolchain = null, bool kselftest = false)
    {
        var list = new List<Prerequisite>
        {
            Program("make", "make"), Program("flex", "flex"), Program("bison", "bison"),
            Program("bc", "bc"), Program("perl", "perl"), Program("xz", "xz-utils"), Program("ccache", "ccache"),
            Program("patch", "patch"), Program("cpio", "cpio"),
            File("/usr/include/gelf.h", "libelf-dev"), File("/usr/include/openssl/ssl.h", "libssl-dev"),
            File("/bin/busybox", "busybox-static"),
            // modules_install runs depmod for kernels with CONFIG_MODULES=y.
            File("/sbin/depmod", "kmod"),
        };
        list.AddRange((toolchain ?? Toolchain.Gcc).Programs(arch).Select(p => Program(p.Program, p.Package)));
        list.Add(Program(arch.QemuBinary, arch.QemuDebianPackage));
        list.AddRange(arch.Firmware.Select(f => File(f.Path, f.Package)));
        if (!arch.IsHost && !arch.DebianBusybox) list.AddRange(BusyboxSourceBuild.Needs(arch).Select(n => File(n.Path, n.Package)));
        if (distcc) list.Add(Program("distcc", "distcc"));
        if (kselftest) list.Add(Program("rsync", "rsync"));
        if (docker)
        {
            list.Add(Program("docker", "docker.io"));
            list.Add(Program("debootstrap", "debootstrap"));
        }
        return list;
    }

    public static IReadOnlyList<Prerequisite> Missing(IEnumerable<Prerequisite> wanted) => wanted.Where(p => !p.IsPresent()).ToList();

    /// <summary>Installs the missing packages when allowed; otherwise says exactly what to run (exit 2).</summary>
    public static void Ensure(Arch arch, bool mayInstall, IKilnLog log, bool distcc = false, bool docker = false, Toolchain? toolchain = null, bool kselftest = false) =>
        Ensure(For(arch, distcc, docker, toolchain, kselftest), mayInstall, log);

    /// <summary>What the Analyze target needs besides the build's prerequisites.</summary>
    public static IReadOnlyList<Prerequisite> ForAnalysis { get; } = new[] { Program("sparse", "sparse"), Program("perl", "perl") };

    /// <summary>What the Reproduce target needs besides the build's: the faked clock, user namespaces (util-linux) and ELF tools for the comparison.</summary>
    public static IReadOnlyList<Prerequisite> ForReproduce { get; } = new[]
    {
        Program("faketime", "faketime"), Program("unshare", "util-linux"), Program("readelf", "binutils"),
    };

    public static void Ensure(IReadOnlyList<Prerequisite> wanted, bool mayInstall, IKilnLog log)
    {
        var missing = Missing(wanted);
        if (missing.Count == 0)
        {
            log.Verbose("Host prerequisites present");
            return;
        }
        // Installed but not on PATH: apt-get would change nothing, so say where the program is instead.
        var hidden = missing.Select(m => (m.What, Where: OffPath(m))).Where(h => h.Where is not null).ToList();
        if (hidden.Count > 0)
            throw KilnException.BadInput(
                $"Not on PATH: {string.Join(", ", hidden.Select(h => $"{h.What} (installed at {h.Where})"))}. " +
                $"Add {string.Join(" and ", hidden.Select(h => Path.GetDirectoryName(h.Where)!).Distinct())} to PATH (PATH is now '{Environment.GetEnvironmentVariable("PATH")}').");
        var packages = missing.Select(m => m.Package).Distinct().OrderBy(p => p, StringComparer.Ordinal).ToArray();
        var what = string.Join(", ", missing.Select(m => m.What));
        if (!mayInstall)
            throw KilnException.BadInput($"Missing on this host: {what}. Install them with: apt-get install {string.Join(' ', packages)} (or rerun as root, or with --install-deps).");
        log.Info($"Installing missing prerequisites: {string.Join(' ', packages)}");
        Apt.ThisRun.Install(packages, log);
        var still = Missing(missing);
        if (still.Count > 0)
            throw KilnException.BadInput($"Still missing after apt-get: {string.Join(", ", still.Select(m => m.What))}.");
    }

    public static bool IsRoot => Environment.UserName == "root";

    public static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Any(dir => System.IO.File.Exists(Path.Combine(dir, program)));

    private static readonly string[] StandardDirectories = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin" };

    /// <summary>Where a program that is not on PATH sits among the standard directories, or null.</summary>
    private static string? OffPath(Prerequisite p) =>
        p.What.Contains('/') ? null : StandardDirectories.Select(d => Path.Combine(d, p.What)).FirstOrDefault(System.IO.File.Exists);

    private static Prerequisite Program(string name, string package) => new(name, package, () => OnPath(name));
    private static Prerequisite File(string path, string package) => new(path, package, () => System.IO.File.Exists(path));
}
