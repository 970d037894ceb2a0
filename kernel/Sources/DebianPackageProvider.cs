using System.Security.Cryptography;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Sources;

/// <summary>
/// Debian's linux-source-&lt;series&gt; package: /usr/src/linux-source-&lt;series&gt;.tar.xz, checked against dpkg's
/// own record of the file, and only used when Debian's upstream version is the pinned one.
/// It is Debian's patched tree; the provenance says so.
/// </summary>
public sealed class DebianPackageProvider : ISourceProvider
{
    private readonly string _package;
    private readonly bool _mayInstall;

    public DebianPackageProvider(string package, bool mayInstall)
    {
        _package = package;
        _mayInstall = mayInstall;
    }

    public string Name => "debian:" + _package;

    public SourceTree Acquire(KernelVersion version, SourceCache cache, IKilnLog log)
    {
        var installed = InstalledVersion(log);
        if (installed is null)
        {
            if (!_mayInstall)
                throw new SourceUnavailableException($"{_package} is not installed; run as root or with --install-deps to let Kiln install it (apt-get install {_package})");
            Install(log);
            installed = InstalledVersion(log) ?? throw new SourceUnavailableException($"{_package}: apt-get reported success but dpkg does not list it");
        }

        var upstream = installed.Split('-')[0];
        if (upstream != version.ToString())
            throw new SourceUnavailableException(
                $"Debian's {_package} is {installed} (upstream {upstream}), not the pinned {version}. " +
                $"To build Debian's tree, pin \"{version.SeriesName}\" to version \"{upstream}\" in versions.yaml or pass --kernel={upstream}");

        var treeName = $"{version}-debian-{installed}";
        if (cache.FindTree(treeName) is { } existing)
        {
            log.Info($"Reusing verified source {existing}");
            return new SourceTree(existing, version, SourceProvenance.ReadFrom(existing)!, Reused: true);
        }

        var archive = $"/usr/src/{_package}.tar.xz";
        if (!File.Exists(archive))
            throw new SourceUnavailableException($"{_package} {installed} is installed but {archive} is missing; reinstall it (apt-get install --reinstall {_package})");
        VerifyAgainstDpkg(archive, log);
        var provenance = new SourceProvenance(Name, version.ToString(), archive, SourceCache.FileSha256(archive),
            $"Debian package {_package} {installed} (Debian's patched tree), md5 verified against dpkg's record");
        string dir;
        try
        {
            dir = cache.InstallTree(treeName, archive, provenance, log);
        }
        catch (KilnException e) when (e.ExitCode == ExitCodes.Infrastructure)
        {
            throw new KilnException(e.ExitCode, $"{e.Message} Reinstall the package: apt-get install --reinstall {_package}", e);
        }
        return new SourceTree(dir, version, provenance, Reused: false);
    }

    private string? InstalledVersion(IKilnLog log)
    {
        var result = new Command("dpkg-query", "-W", "-f=${Status}|${Version}", _package)
        {
            AcceptedExitCodes = new[] { 0, 1 },
            Purpose = "Query dpkg",
        }.Run(log);
        var parts = result.StandardOutput.Trim().Split('|');
        return result.ExitCode == 0 && parts.Length == 2 && parts[0].EndsWith(" installed", StringComparison.Ordinal) ? parts[1] : null;
    }

    private void Install(IKilnLog log)
    {
        log.Info($"Installing {_package} with apt-get");
        try
        {
            Apt.ThisRun.Install(new[] { _package }, log);
        }
        catch (KilnException e)
        {
            throw new SourceUnavailableException(e.Message);
        }
    }

    /// <summary>dpkg records an md5 for every file it installed; a changed tarball means a damaged install.</summary>
    private void VerifyAgainstDpkg(string archive, IKilnLog log)
    {
        var sums = $"/var/lib/dpkg/info/{_package}.md5sums";
        if (!File.Exists(sums))
        {
            log.Warning($"{sums} is missing; cannot check {archive} against dpkg's record");
            return;
        }
        var relative = archive.TrimStart('/');
        var expected = File.ReadLines(sums).Select(l => l.Split("  ", 2)).FirstOrDefault(p => p.Length == 2 && p[1] == relative)?[0];
        if (expected is null) return;
        using var stream = File.OpenRead(archive);
        var actual = Convert.ToHexStringLower(MD5.HashData(stream));
        if (actual != expected)
            throw new KilnException(ExitCodes.Infrastructure, $"{archive} does not match dpkg's record ({sums}): md5 {actual}, expected {expected}. Reinstall it: apt-get install --reinstall {_package}");
    }
}
