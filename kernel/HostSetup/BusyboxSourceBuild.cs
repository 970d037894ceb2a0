using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.HostSetup;

/// <summary>
/// Builds Debian's busybox-static for an arch Debian 12 ships no binary for (riscv64): the same source package
/// (apt-get source, checked against the archive's signed Sources index), Debian's patches and its
/// <c>static</c> flavour's config, cross-compiled and statically linked against the cross glibc. The guest gets
/// the applets busybox-static gives the other arches, so its init and test scripts are the same.
/// </summary>
public static class BusyboxSourceBuild
{
    public const string SourcePackage = "busybox";

    /// <summary>What building needs on the host: the cross gcc (whatever compiles the kernel), the static C library, tar's decompressors and patch.</summary>
    public static IReadOnlyList<(string Path, string Package)> Needs(Arch arch) =>
    [
        ($"/usr/bin/{arch.CrossPrefix}gcc", arch.CrossCompilerPackage),
        ($"/usr/{arch.CrossPrefix.TrimEnd('-')}/lib/libc.a", $"libc6-dev-{arch.DebianArch}-cross"),
        ("/usr/bin/bzip2", "bzip2"),
        ("/usr/bin/patch", "patch"),
    ];

    /// <summary>Fetches, patches, configures and builds busybox for <paramref name="arch"/>, and copies it to <paramref name="target"/> atomically.</summary>
    public static void Build(Arch arch, string target, int jobs, IKilnLog log)
    {
        var staging = Directory.CreateTempSubdirectory("kiln-busybox-src-").FullName;
        try
        {
            // apt's sandbox user must write the downloads; a world-writable directory lets it.
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(staging, (UnixFileMode)0x1ff);
            var downloads = Path.Combine(staging, "downloads");
            Directory.CreateDirectory(downloads);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(downloads, (UnixFileMode)0x1ff);
            var version = Fetch(staging, downloads, log);
            var source = Path.Combine(staging, "source");
            Unpack(downloads, source, log);
            var output = Path.Combine(staging, "build");
            Directory.CreateDirectory(output);
            // Debian's rules: the OS overrides, then the flavour's config, settled by oldconfig.
            File.WriteAllText(Path.Combine(output, ".config"),
                File.ReadAllText(Path.Combine(source, "debian", "config", "os", "linux")) +
                File.ReadAllText(Path.Combine(source, "debian", "config", "pkg", "static")));
            log.Info($"Building busybox {version} (Debian's static flavour) for {arch.Name} with {arch.CrossPrefix}gcc");
            Make(arch, source, output, log, "silentoldconfig");
            Make(arch, source, output, log, "-j" + jobs, "busybox");
            var binary = Path.Combine(output, "busybox");
            Boot.InitramfsBuilder.CheckBusybox(binary, arch);
            AtomicFile.Copy(binary, target);
            log.Info($"Built busybox {version} for {arch.Name}: {target}");
        }
        catch (CommandFailedException e)
        {
            throw KilnException.Infrastructure($"Could not build busybox for the {arch.Name} guest: {e.Message}", e);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>apt-get source --download-only with a private deb-src list and lists directory, so the host's apt is left as it was.</summary>
    private static string Fetch(string staging, string downloads, IKilnLog log)
    {
        var parts = Path.Combine(staging, "apt-sources");
        var lists = Path.Combine(staging, "apt-lists");
        Directory.CreateDirectory(parts);
        Directory.CreateDirectory(Path.Combine(lists, "partial"));
        var noList = Path.Combine(staging, "apt-sources.list");
        File.WriteAllText(noList, "");
        File.WriteAllText(Path.Combine(parts, "kiln-source.sources"), SourcesEntry(DebianMirror(log), DebianCodename()));
        string[] Options() => ["-o", "Dir::Etc::SourceList=" + noList, "-o", "Dir::Etc::SourceParts=" + parts, "-o", "Dir::State::Lists=" + lists];
        log.Info($"Fetching Debian's {SourcePackage} source package (apt-get source)");
        new Command("apt-get", [.. Options(), "update", "-qq"]) { Purpose = "apt-get update (deb-src)" }.Run(log);
        var fetched = new Command("apt-get", [.. Options(), "source", "--download-only", "-qq", SourcePackage])
        {
            Purpose = "apt-get source " + SourcePackage,
            WorkingDirectory = downloads,
        }.Run(log);
        var dsc = Directory.GetFiles(downloads, "*.dsc").SingleOrDefault()
                  ?? throw KilnException.Infrastructure($"apt-get source {SourcePackage} left no .dsc in {downloads}: {fetched.StandardError.Trim()}");
        // busybox_1.35.0-4+deb12u1.dsc → 1:1.35.0-4+deb12u1 without the epoch, which file names leave out.
        return Path.GetFileNameWithoutExtension(dsc)[(SourcePackage.Length + 1)..];
    }

    private static void Unpack(string downloads, string source, IKilnLog log)
    {
        Directory.CreateDirectory(source);
        var orig = Directory.GetFiles(downloads, "*.orig.tar.*").Single();
        var debian = Directory.GetFiles(downloads, "*.debian.tar.*").Single();
        new Command("tar", "-xf", orig, "-C", source, "--strip-components=1") { Purpose = "tar -x " + Path.GetFileName(orig) }.Run(log);
        new Command("tar", "-xf", debian, "-C", source) { Purpose = "tar -x " + Path.GetFileName(debian) }.Run(log);
        var series = Path.Combine(source, "debian", "patches", "series");
        foreach (var patch in File.ReadLines(series).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
            new Command("patch", "-p1", "-s", "-i", Path.Combine(source, "debian", "patches", patch))
            {
                Purpose = "patch " + patch,
                WorkingDirectory = source,
            }.Run(log);
    }

    private static void Make(Arch arch, string source, string output, IKilnLog log, params string[] goals)
    {
        var make = new Command("make", ["-C", output, "-f", Path.Combine(source, "Makefile"), "KBUILD_SRC=" + source, "CROSS_COMPILE=" + arch.CrossPrefix, .. goals])
        {
            Purpose = "make " + string.Join(' ', goals) + " (busybox)",
            OnOutput = log.Verbose,
            // oldconfig asks about options the config does not name; an empty answer takes the default, as Debian's `yes ""`.
            StandardInput = new string('\n', 4096),
        };
        // As Debian's rules: no timestamp in the generated config.
        make.Environment["KCONFIG_NOTIMESTAMP"] = "1";
        make.Run(log);
    }

    /// <summary>A deb822 deb-src entry for the host's Debian release, checked with Debian's archive keyring.</summary>
    internal static string SourcesEntry(string mirror, string codename) =>
        $"Types: deb-src\nURIs: {mirror}\nSuites: {codename}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";

    /// <summary>The mirror the host's own Debian entries use for its release (deb.debian.org when none is found).</summary>
    private static string DebianMirror(IKilnLog log)
    {
        var codename = DebianCodename();
        var targets = new Command("apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE) $(COMPONENT)", "Identifier: Packages")
        {
            Purpose = "apt-get indextargets",
            AcceptedExitCodes = Enumerable.Range(0, 256).ToArray(),
        }.Run(log).StandardOutput;
        return PickMirror(targets, codename) ?? "http://deb.debian.org/debian";
    }

    /// <summary>The first repository serving <paramref name="codename"/>'s main component, from apt-get indextargets lines.</summary>
    internal static string? PickMirror(string indexTargets, string codename) =>
        indexTargets.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' '))
            .Where(f => f.Length == 3 && f[1] == codename && f[2] == "main")
            .Select(f => f[0].TrimEnd('/'))
            .FirstOrDefault();

    private static string DebianCodename() =>
        File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").Where(l => l.StartsWith("VERSION_CODENAME=", StringComparison.Ordinal))
                  .Select(l => l["VERSION_CODENAME=".Length..].Trim('"')).FirstOrDefault(c => c.Length > 0) ?? "bookworm"
            : "bookworm";
}
