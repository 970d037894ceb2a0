using System.Security.Cryptography;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Sources;

/// <summary>
/// Debian's linux-source-&lt;series&gt; package: /usr/src/linux-source-&lt;series&gt;.tar.xz, checked against dpkg's
/// own record of the file, and only used when Debian's upstream version is the pinned one. Hashing the archive gives the
/// build's identity; the 1.3 GB tree is extracted only when a stage needs it.
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

    public VerifiedSource Acquire(KernelVersion version, SourceCache cache, IKilnLog log)
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
        if (cache.FindTree(treeName, version) is { } existing)
        {
            log.Info($"Reusing verified source {existing.Directory}");
            return VerifiedSource.Unpacked(existing);
        }

        var archive = $"/usr/src/{_package}.tar.xz";
        if (!File.Exists(archive))
            throw new SourceUnavailableException($"{_package} {installed} is installed but {archive} is missing; reinstall it (apt-get install --reinstall {_package})");
        var hashed = new FileInfo(archive);
        var (length, written) = (hashed.Length, hashed.LastWriteTimeUtc);
        var (md5, sha256) = Hashes(archive);
        VerifyAgainstDpkg(archive, md5, log);
        var provenance = new SourceProvenance(Name, version.ToString(), archive, sha256,
            $"Debian package {_package} {installed} (Debian's patched tree), md5 verified against dpkg's record");
        return VerifiedSource.Packed(version, provenance, () => cache.Unpack(treeName, version, log, () =>
        {
            // The identity is this archive's sha256: a package upgraded since it was hashed would be a tree of other bytes.
            var now = new FileInfo(archive);
            if (!now.Exists || now.Length != length || now.LastWriteTimeUtc != written)
                throw new KilnException(ExitCodes.Infrastructure, $"{archive} changed after Kiln verified it (was the package upgraded?); run again.");
            try
            {
                return new SourceTree(cache.InstallTree(treeName, archive, provenance, log), version, provenance, Reused: false);
            }
            catch (KilnException e) when (e.ExitCode == ExitCodes.Infrastructure)
            {
                throw new KilnException(e.ExitCode, $"{e.Message} Reinstall the package: apt-get install --reinstall {_package}", e);
            }
        }));
    }

    /// <summary>The archive's md5 (dpkg's record) and sha256 (the identity), in one read of its 140 MB.</summary>
    private static (string Md5, string Sha256) Hashes(string archive)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var stream = File.OpenRead(archive);
        var buffer = new byte[1 << 20];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            md5.AppendData(buffer, 0, read);
            sha256.AppendData(buffer, 0, read);
        }
        return (Convert.ToHexStringLower(md5.GetHashAndReset()), Convert.ToHexStringLower(sha256.GetHashAndReset()));
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
    private void VerifyAgainstDpkg(string archive, string actual, IKilnLog log)
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
        if (actual != expected)
            throw new KilnException(ExitCodes.Infrastructure, $"{archive} does not match dpkg's record ({sums}): md5 {actual}, expected {expected}. Reinstall it: apt-get install --reinstall {_package}");
    }
}
