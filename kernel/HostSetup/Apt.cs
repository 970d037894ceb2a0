using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.HostSetup;

/// <summary>What Kiln asks of apt; a fake stands in for it in unit tests.</summary>
public interface IAptBackend
{
    /// <summary>The candidate version apt would install for each package, or null when it has none (unknown, or no lists).</summary>
    IReadOnlyDictionary<string, string?> Candidates(IReadOnlyCollection<string> packages, IKilnLog log);
    /// <summary>apt-get update; the error text when it failed, else null.</summary>
    string? Update(IKilnLog log);
    /// <summary>apt-get install; the error text when it failed, else null.</summary>
    string? Install(IReadOnlyCollection<string> packages, IKilnLog log);
    /// <summary>apt-get download into a directory; the error text when it failed, else null.</summary>
    string? Download(string package, string directory, IKilnLog log);
    IReadOnlyCollection<string> ForeignArchitectures(IKilnLog log);
    void AddArchitecture(string debianArch, IKilnLog log);
}

/// <summary>
/// Installs and downloads Debian packages so that a fresh machine works: when apt has no lists, or a package
/// has no candidate (stale lists), it runs apt-get update and tries again, at most once per run (once more
/// after Kiln adds a foreign dpkg architecture, whose lists no earlier update fetched). A package that still
/// has no candidate is exit 2 naming it and the Debian release that has it. When every package has a
/// candidate, nothing touches the network before the install itself (offline hosts with lists keep working).
/// </summary>
public sealed class Apt
{
    /// <summary>One per process: the "once per run" is shared by every stage that installs something.</summary>
    public static Apt ThisRun { get; } = new(new AptCommands());

    private readonly IAptBackend _backend;
    private readonly object _gate = new();
    private bool _listsFresh;
    private string? _updateError;

    public Apt(IAptBackend backend) => _backend = backend;

    /// <summary>How many times this run called apt-get update.</summary>
    public int Updates { get; private set; }

    /// <summary>Where each package Kiln installs comes from, for the message when a host's sources lack it.</summary>
    public static string ReleaseOf(string package) =>
        package.StartsWith("linux-source-6.12", StringComparison.Ordinal)
            ? "Debian 12 (bookworm-security, main)"
            : "Debian 12 (bookworm, main)";

    public void Install(IReadOnlyCollection<string> packages, IKilnLog log)
    {
        lock (_gate)
        {
            RequireCandidates(packages, log);
            var error = _backend.Install(packages, log);
            // Lists older than the archive name files the mirror no longer has (404): fresh lists fix that.
            if (error is not null && UpdateOnce(log))
            {
                RequireCandidates(packages, log);
                error = _backend.Install(packages, log);
            }
            if (error is not null)
                throw KilnException.Infrastructure($"apt-get install {string.Join(' ', packages)} failed: {error}\nInstall them by hand, then rerun.");
        }
    }

    /// <summary>apt-get download of one package (e.g. busybox-static:arm64) into a directory.</summary>
    public void Download(string package, string directory, IKilnLog log)
    {
        lock (_gate)
        {
            RequireCandidates(new[] { package }, log);
            var error = _backend.Download(package, directory, log);
            if (error is not null && UpdateOnce(log)) error = _backend.Download(package, directory, log);
            if (error is not null)
                throw KilnException.Infrastructure($"apt-get download {package} failed: {error}");
        }
    }

    /// <summary>Lets dpkg install or download packages of another architecture; their lists come with the next update.</summary>
    public void AddArchitecture(string debianArch, IKilnLog log)
    {
        lock (_gate)
        {
            if (_backend.ForeignArchitectures(log).Contains(debianArch)) return;
            log.Info($"Adding the {debianArch} architecture to dpkg");
            _backend.AddArchitecture(debianArch, log);
            _listsFresh = false;
        }
    }

    private void RequireCandidates(IReadOnlyCollection<string> packages, IKilnLog log)
    {
        var missing = WithoutCandidate(packages, log);
        if (missing.Count > 0 && UpdateOnce(log)) missing = WithoutCandidate(packages, log);
        if (missing.Count == 0) return;
        var why = _updateError is null ? "even after apt-get update" : $"and apt-get update failed ({_updateError})";
        throw KilnException.BadInput(
            $"No installation candidate for {string.Join(", ", missing.Select(p => $"{p} (in {ReleaseOf(p)})"))} " +
            $"in this host's apt sources, {why}. Add that release to /etc/apt/sources.list or /etc/apt/sources.list.d/, " +
            $"run apt-get update, then rerun.");
    }

    private List<string> WithoutCandidate(IReadOnlyCollection<string> packages, IKilnLog log) =>
        _backend.Candidates(packages, log).Where(c => c.Value is null).Select(c => c.Key).OrderBy(p => p, StringComparer.Ordinal).ToList();

    /// <summary>Runs apt-get update unless this run's lists are already fresh; true when it ran.</summary>
    private bool UpdateOnce(IKilnLog log)
    {
        if (_listsFresh) return false;
        _listsFresh = true;
        log.Info("Updating apt's package lists (apt-get update)");
        Updates++;
        _updateError = _backend.Update(log);
        if (_updateError is not null) log.Warning($"apt-get update failed: {_updateError}");
        return true;
    }
}

/// <summary>The real apt: apt-cache policy, apt-get update/install/download, dpkg --add-architecture.</summary>
public sealed class AptCommands : IAptBackend
{
    public IReadOnlyDictionary<string, string?> Candidates(IReadOnlyCollection<string> packages, IKilnLog log)
    {
        // apt-cache policy prints a block per known package ("name:" then "  Candidate: X"); unknown ones print nothing.
        var output = new Command("apt-cache", new[] { "policy" }.Concat(packages).ToArray())
        {
            AcceptedExitCodes = new[] { 0, 100 },
            Purpose = "apt-cache policy",
        }.Run(log).StandardOutput;
        return ParsePolicy(output, packages);
    }

    public static IReadOnlyDictionary<string, string?> ParsePolicy(string output, IReadOnlyCollection<string> packages)
    {
        var result = packages.ToDictionary(p => p, _ => (string?)null);
        string? current = null;
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length > 0 && !char.IsWhiteSpace(line[0]) && line.EndsWith(':'))
                current = line[..^1];
            else if (current is not null && line.TrimStart().StartsWith("Candidate:", StringComparison.Ordinal))
            {
                var candidate = line.TrimStart()["Candidate:".Length..].Trim();
                var key = result.Keys.FirstOrDefault(p => p == current || p.Split(':')[0] == current);
                if (key is not null) result[key] = candidate is "" or "(none)" ? null : candidate;
            }
        }
        return result;
    }

    public string? Update(IKilnLog log) => Run(log, "apt-get update", "apt-get", new[] { "update", "-qq" });

    public string? Install(IReadOnlyCollection<string> packages, IKilnLog log) =>
        Run(log, "apt-get install", "apt-get", new[] { "install", "-y", "-qq", "--no-install-recommends" }.Concat(packages).ToArray());

    public string? Download(string package, string directory, IKilnLog log) =>
        Run(log, "apt-get download " + package, "apt-get", new[] { "download", package }, directory);

    public IReadOnlyCollection<string> ForeignArchitectures(IKilnLog log) =>
        new Command("dpkg", "--print-foreign-architectures") { Purpose = "dpkg" }.Run(log).StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public void AddArchitecture(string debianArch, IKilnLog log) =>
        new Command("dpkg", "--add-architecture", debianArch) { Purpose = "dpkg --add-architecture" }.Run(log);

    private static string? Run(IKilnLog log, string purpose, string program, string[] args, string? workingDirectory = null)
    {
        var command = new Command(program, args)
        {
            Purpose = purpose,
            WorkingDirectory = workingDirectory,
            OnOutput = log.Verbose,
            AcceptedExitCodes = Enumerable.Range(0, 256).ToArray(),
        };
        command.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        var result = command.Run(log);
        if (result.ExitCode == 0) return null;
        var errors = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return errors.Length == 0 ? $"exit {result.ExitCode}" : string.Join("\n", errors.TakeLast(8));
    }
}
