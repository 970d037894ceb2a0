using System.Globalization;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Build.Distribution;

/// <summary>How distcc reaches a host: compiles in-process ("localhost"), over TCP to distccd, or over SSH.</summary>
public enum DistccTransport { Local, Tcp, Ssh }

/// <summary>
/// One entry of a distcc host list (distcc(1) "Host Specifications"), kept verbatim for DISTCC_HOSTS and
/// parsed only as far as Kiln needs: where to probe and how many jobs the host takes.
/// </summary>
public sealed record DistccHost(string Spec, DistccTransport Transport, string Address, int Port, int Limit)
{
    /// <summary>distcc's own defaults: 4 jobs per remote host, 2 for localhost; distccd listens on 3632.</summary>
    public const int DefaultRemoteLimit = 4;
    public const int DefaultLocalLimit = 2;
    public const int DefaultPort = 3632;
    private const int SshPort = 22;

    // HOSTID is a name, an IPv4 address or a bracketed IPv6 address.
    private const string HostId = @"(?<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)";
    private const string Options = @"(?<options>(,(lzo|cpp|auth(=[^,\s]+)?))*)";
    private static readonly Regex Local = new(@"^localhost(/(?<limit>\d+))?$", RegexOptions.Compiled);
    private static readonly Regex Ssh = new($@"^(?<user>[^@\s/:,]*)@{HostId}(/(?<limit>\d+))?(:(?<command>[^,\s]+))?{Options}$", RegexOptions.Compiled);
    private static readonly Regex Tcp = new($@"^{HostId}(:(?<port>\d+))?(/(?<limit>\d+))?{Options}$", RegexOptions.Compiled);
    private static readonly Regex OldStyleTcp = new($@"^{HostId}/(?<limit>\d+):(?<port>\d+){Options}$", RegexOptions.Compiled);

    public string Endpoint => Transport == DistccTransport.Local ? "localhost" : $"{Address}:{Port}";

    public static DistccHost Parse(string spec)
    {
        Match m;
        if ((m = Local.Match(spec)).Success)
            return new DistccHost(spec, DistccTransport.Local, "localhost", 0, LimitOf(m, spec, DefaultLocalLimit));
        if ((m = Ssh.Match(spec)).Success)
            return new DistccHost(spec, DistccTransport.Ssh, Unbracket(m), SshPort, LimitOf(m, spec, DefaultRemoteLimit));
        if ((m = Tcp.Match(spec)).Success || (m = OldStyleTcp.Match(spec)).Success)
            return new DistccHost(spec, DistccTransport.Tcp, Unbracket(m), PortOf(m, spec), LimitOf(m, spec, DefaultRemoteLimit));
        throw Invalid(spec, "not a distcc host");
    }

    private static string Unbracket(Match m) => m.Groups["host"].Value.Trim('[', ']');

    private static int LimitOf(Match m, string spec, int fallback)
    {
        if (!m.Groups["limit"].Success) return fallback;
        return int.TryParse(m.Groups["limit"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n : throw Invalid(spec, "the /LIMIT must be a positive number of jobs");
    }

    private static int PortOf(Match m, string spec)
    {
        if (!m.Groups["port"].Success) return DefaultPort;
        return int.TryParse(m.Groups["port"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536
            ? p : throw Invalid(spec, "the port must be between 1 and 65535");
    }

    private static KilnException Invalid(string spec, string why) => KilnException.BadInput(
        $"--distcc-hosts: '{spec}' is {why}. Expected HOST[:PORT][/LIMIT][,lzo], [USER]@HOST[/LIMIT], localhost[/LIMIT] " +
        "or --randomize, separated by spaces (e.g. '10.0.0.5:3632/8,lzo build2/4').");
}
