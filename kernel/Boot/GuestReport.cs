using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Kiln.Kernel.Boot;

/// <summary>One user test script as the guest reported it.</summary>
public sealed record GuestTestReport(string Name, int ExitCode, double Seconds);

/// <summary>What the guest init said of one of its own checks (a device, cgroup2, namespaces).</summary>
public enum GuestCheckStatus
{
    Ok,
    Fail,
    /// <summary>The kernel lacks what the check needs (a driver, cgroups): nothing to check.</summary>
    NotApplicable,
}

public sealed record GuestCheckReport(GuestCheckStatus Status, string Message);

/// <summary>
/// The guest's report, read from the dedicated report device. Every line has the form
/// <c>KILN &lt;nonce&gt; &lt;kind&gt; [fields]</c>. Only init knows the nonce and holds the device open (test scripts
/// run without either), and each fact may be reported once: a line without this run's nonce, or a second line
/// for a test, check or value already reported, is a <see cref="Problems">problem</see> that fails the boot,
/// and a test or check with two lines fails whatever they say. So neither kernel output, a stale report file nor
/// a test writing lines of its own can turn a failure into a pass.
/// </summary>
public sealed class GuestReport
{
    public const string Marker = "KILN";
    /// <summary>How much of an offending line a problem quotes: the guest decides its length.</summary>
    private const int QuoteLength = 160;

    /// <summary>Line kinds; the init script writes them and <see cref="Parse"/> reads them.</summary>
    public static class Kinds
    {
        public const string Start = "start";
        public const string Uname = "uname";
        /// <summary>One chunk of base64 of /proc/config.gz; chunks concatenate in order.</summary>
        public const string Config = "config";
        /// <summary>The kernel has no /proc/config.gz (CONFIG_IKCONFIG_PROC off).</summary>
        public const string NoConfig = "noconfig";
        public const string Begin = "begin";
        public const string Test = "test";
        public const string Done = "done";
        /// <summary><c>check NAME ok|fail|na MESSAGE…</c>: the init's verdict on one of its checks.</summary>
        public const string Check = "check";
        /// <summary><c>observed NAME VALUE</c>: what the init read (a device's token, nproc, MemTotal).</summary>
        public const string Observed = "observed";
    }

    private readonly StringBuilder _configBase64 = new();
    private readonly List<GuestTestReport> _tests = new();
    private readonly Dictionary<string, GuestCheckReport> _checks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _observed = new(StringComparer.Ordinal);
    /// <summary>The first line seen for each fact ("done", "test NAME", …), to tell a repeat from a conflict.</summary>
    private readonly Dictionary<string, string> _firstLine = new(StringComparer.Ordinal);
    private readonly HashSet<string> _disputed = new(StringComparer.Ordinal);
    private readonly List<string> _problems = new();

    private GuestReport(string nonce) => Nonce = nonce;

    public string Nonce { get; }
    public bool Started { get; private set; }
    public string? Release { get; private set; }
    public bool ConfigMissing { get; private set; }
    public bool HasConfig => _configBase64.Length > 0;
    public IReadOnlyList<GuestTestReport> Tests => _tests;
    /// <summary>The last test that began; when it has no result the guest died or hung in it.</summary>
    public string? LastBegunTest { get; private set; }
    public bool Done { get; private set; }
    public IReadOnlyDictionary<string, GuestCheckReport> Checks => _checks;
    public IReadOnlyDictionary<string, string> Observed => _observed;
    /// <summary>Lines init did not write, or wrote a second time (each names its line number); any fails the boot.</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>True when test <paramref name="name"/> was reported more than once: its result cannot be trusted.</summary>
    public bool IsTestDisputed(string name) => _disputed.Contains(Kinds.Test + " " + name);

    /// <summary>A fresh random nonce (16 hex digits) for one boot.</summary>
    public static string NewNonce() => Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();

    public static string FormatLine(string nonce, string kind, params string[] fields) =>
        string.Join(' ', new[] { Marker, nonce, kind }.Concat(fields));

    public static GuestReport ParseFile(string path, string nonce) =>
        Parse(File.Exists(path) ? File.ReadLines(path) : Array.Empty<string>(), nonce);

    public static GuestReport Parse(IEnumerable<string> lines, string nonce)
    {
        var report = new GuestReport(nonce);
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw.Trim('\r', '\n', ' ', '\0');
            if (line.Length == 0) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 3 || parts[0] != Marker || parts[1] != nonce)
                report._problems.Add($"line {number} was not written by this run's init: '{Quote(line)}'");
            else
                report.Apply(number, parts[2], parts[3..]);
        }
        return report;
    }

    private void Apply(int number, string kind, string[] fields)
    {
        var text = string.Join(' ', fields.Prepend(kind));
        // Config chunks repeat by design; every other kind states one fact, once.
        var fact = kind switch
        {
            Kinds.Config => null,
            Kinds.Begin or Kinds.Test or Kinds.Check or Kinds.Observed when fields.Length > 0 => kind + " " + fields[0],
            _ => kind,
        };
        if (fact is not null && !_firstLine.TryAdd(fact, text))
        {
            var first = _firstLine[fact];
            _problems.Add(first == text
                ? $"line {number} repeats '{Quote(text)}'"
                : $"line {number} '{Quote(text)}' contradicts the earlier '{Quote(first)}'");
            if (_disputed.Add(fact)) Dispute(kind, fields);
            return;
        }

        switch (kind)
        {
            case Kinds.Start: Started = true; break;
            case Kinds.Uname when fields.Length == 1: Release = fields[0]; break;
            case Kinds.Config when fields.Length == 1: _configBase64.Append(fields[0]); break;
            case Kinds.NoConfig: ConfigMissing = true; break;
            case Kinds.Begin when fields.Length == 1: LastBegunTest = fields[0]; break;
            case Kinds.Test when fields.Length == 3
                                 && int.TryParse(fields[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var exit)
                                 && double.TryParse(fields[2], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds):
                _tests.Add(new GuestTestReport(fields[0], exit, seconds));
                break;
            case Kinds.Done: Done = true; break;
            case Kinds.Check when fields.Length >= 2 && ParseStatus(fields[1]) is { } status:
                _checks[fields[0]] = new GuestCheckReport(status, string.Join(' ', fields[2..]));
                break;
            case Kinds.Observed when fields.Length == 2: _observed[fields[0]] = fields[1]; break;
            default:
                _problems.Add($"line {number} is not a report line init writes: '{Quote(text)}'");
                break;
        }
    }

    /// <summary>A check reported twice fails, and a value reported twice is no value; a disputed test fails in the verdict.</summary>
    private void Dispute(string kind, string[] fields)
    {
        if (kind == Kinds.Check)
            _checks[fields[0]] = new GuestCheckReport(GuestCheckStatus.Fail, "reported more than once on the report device (see guest-report)");
        else if (kind == Kinds.Observed)
            _observed.Remove(fields[0]);
    }

    /// <summary>Part of a line the guest wrote, fit for a terminal and the report files (no escape sequences).</summary>
    private static string Quote(string text)
    {
        var printable = BootResultWriter.Printable(text);
        return printable.Length <= QuoteLength ? printable : printable[..QuoteLength] + "…";
    }

    private static GuestCheckStatus? ParseStatus(string word) => word switch
    {
        "ok" => GuestCheckStatus.Ok,
        "fail" => GuestCheckStatus.Fail,
        "na" => GuestCheckStatus.NotApplicable,
        _ => null,
    };

    /// <summary>The kernel's .config text decoded from the reported /proc/config.gz, or null when not reported.</summary>
    public string? DecodeConfig()
    {
        if (!HasConfig) return null;
        try
        {
            var compressed = Convert.FromBase64String(_configBase64.ToString());
            using var gzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
            var text = new MemoryStream();
            gzip.CopyTo(text);
            // GZipStream ends quietly at a truncated stream (guest reset mid-transfer), so compare
            // the length with the gzip trailer's ISIZE field instead.
            var expectedLength = compressed.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(compressed.AsSpan(compressed.Length - 4)) : 0;
            return (uint)text.Length == expectedLength ? Encoding.UTF8.GetString(text.ToArray()) : null;
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            return null;
        }
    }
}
