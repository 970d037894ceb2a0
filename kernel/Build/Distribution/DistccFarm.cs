using System.Net.Sockets;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Build.Distribution;

/// <summary>Whether a host answered the probe, and why not when it did not.</summary>
public sealed record ProbeResult(DistccHost Host, bool Reachable, string? Problem = null);

/// <summary>
/// A distcc host list (--distcc-hosts / KILN_DISTCC_HOSTS): parsed up front so a typo is exit 2 before any
/// work, probed just before the build so a farm that is down means a local build, not a failed one.
/// </summary>
public sealed class DistccFarm
{
    /// <summary>Long enough for a LAN or VPN handshake, short enough that a dead farm costs a second, not minutes.</summary>
    public static readonly TimeSpan DefaultProbeTimeout = TimeSpan.FromSeconds(1.5);

    private DistccFarm(string spec, IReadOnlyList<DistccHost> hosts, IReadOnlyList<string> options)
    {
        Spec = spec;
        Hosts = hosts;
        Options = options;
    }

    public string Spec { get; }
    public IReadOnlyList<DistccHost> Hosts { get; }
    /// <summary>Global entries (--randomize, --localslots=N): passed to distcc as they are.</summary>
    public IReadOnlyList<string> Options { get; }

    public static DistccFarm Parse(string spec)
    {
        var hosts = new List<DistccHost>();
        var options = new List<string>();
        foreach (var token in spec.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (token == "--randomize" || token.StartsWith("--localslots=", StringComparison.Ordinal) || token.StartsWith("--localslots_cpp=", StringComparison.Ordinal))
                options.Add(token);
            else if (token == "+zeroconf")
                throw KilnException.BadInput("--distcc-hosts: +zeroconf is not supported: Kiln probes the hosts and sizes -j from their limits, so list them (HOST[:PORT][/LIMIT]).");
            else
                hosts.Add(DistccHost.Parse(token));
        }
        if (hosts.Count == 0)
            throw KilnException.BadInput($"--distcc-hosts='{spec}': no hosts given. Example: --distcc-hosts='10.0.0.5/8,lzo 10.0.0.6:3633/4'.");
        return new DistccFarm(spec.Trim(), hosts, options);
    }

    /// <summary>
    /// A TCP connect to distccd's port (sshd's for SSH hosts): it proves something listens there, which is what
    /// separates "farm is down" from "farm is up". "localhost" compiles in-process and needs no probe.
    /// </summary>
    public static async Task<ProbeResult> ProbeAsync(DistccHost host, TimeSpan timeout)
    {
        if (host.Transport == DistccTransport.Local) return new ProbeResult(host, true);
        using var cancel = new CancellationTokenSource(timeout);
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(host.Address, host.Port, cancel.Token);
            return new ProbeResult(host, true);
        }
        catch (OperationCanceledException)
        {
            return new ProbeResult(host, false, $"no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            return new ProbeResult(host, false, e.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData => "unknown host",
                _ => e.Message,
            });
        }
    }

    public IReadOnlyList<ProbeResult> Probe(TimeSpan timeout) =>
        Task.WhenAll(Hosts.Select(h => ProbeAsync(h, timeout))).GetAwaiter().GetResult();

    /// <summary>
    /// Decides how to build from the probe results: through the reachable hosts only (so distcc never waits on a
    /// dead one), or locally with a warning when no remote host answered. Without --jobs, -j is the sum of the
    /// reachable remote hosts' limits plus the local slots (localhost's limit when listed, else the local CPUs),
    /// because preprocessing, assembly and linking still run here.
    /// </summary>
    public BuildDistribution Plan(IReadOnlyList<ProbeResult> probes, int localCpus, int? requestedJobs, IKilnLog log)
    {
        var down = probes.Where(p => !p.Reachable).ToList();
        var remote = probes.Where(p => p.Reachable && p.Host.Transport != DistccTransport.Local).Select(p => p.Host).ToList();
        var downText = down.Select(p => $"{p.Host.Endpoint} ({p.Problem})").ToList();
        if (remote.Count == 0)
        {
            var jobs = requestedJobs ?? localCpus;
            var why = down.Count > 0
                ? "no distcc host answered: " + string.Join(", ", downText)
                : "the host list has no remote host";
            log.Warning($"Building locally with {jobs} jobs: {why}.");
            return BuildDistribution.Local(jobs) with { Requested = Spec, Unreachable = NullIfEmpty(down.Select(p => p.Host.Spec)), Fallback = why };
        }

        foreach (var text in downText) log.Warning($"distcc host {text} is left out of this build.");
        var used = probes.Where(p => p.Reachable).Select(p => p.Host).ToList();
        var local = used.FirstOrDefault(h => h.Transport == DistccTransport.Local)?.Limit ?? localCpus;
        return new BuildDistribution(BuildDistribution.Distcc, requestedJobs ?? remote.Sum(h => h.Limit) + local)
        {
            Requested = Spec,
            Hosts = used.Select(h => h.Spec).ToList(),
            Options = NullIfEmpty(Options),
            Unreachable = NullIfEmpty(down.Select(p => p.Host.Spec)),
        };
    }

    /// <summary>"distcc 3.4 x86_64-pc-linux-gnu", for the metadata.</summary>
    public static string EngineVersion(IKilnLog log) =>
        new Command("distcc", "--version") { Purpose = "Query distcc" }.Run(log).StandardOutput.Split('\n')[0].Trim();

    private static IReadOnlyList<string>? NullIfEmpty(IEnumerable<string> items) => items.ToList() is { Count: > 0 } list ? list : null;
}
