using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Versions;
using Kiln.Kernel.IO;
namespace Kiln.Kernel.Sources;

/// <summary>
/// kernel.org's layout: &lt;base&gt;/linux-&lt;version&gt;.tar.xz, checked against &lt;base&gt;/sha256sums.asc before
/// it is extracted. --mirror points <paramref name="baseUrl"/> at any server with the same layout.
/// </summary>
public sealed class KernelOrgProvider : ISourceProvider
{
    private readonly string _baseUrl;
    private readonly HttpClient _http;
    private readonly string? _keyring;
    private readonly TimeSpan _idleTimeout;

    /// <summary>How long a server may send nothing (no headers, no bytes) before the fetch fails: --download-timeout's default.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>sha256sums.asc is a few KiB; a mirror that sends more is broken or hostile, and is not read into memory.</summary>
    public const int MaxChecksumListBytes = 1 << 20;

    /// <param name="keyring">A keyring (gpg --export of kernel.org's signing keys) to check sha256sums.asc's signature with gpgv.</param>
    /// <param name="idleTimeout">How long the server may stay silent; null is <see cref="DefaultIdleTimeout"/>.</param>
    public KernelOrgProvider(string baseUrl, HttpClient http, string? keyring = null, TimeSpan? idleTimeout = null)
    {
        _baseUrl = baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/";
        _http = http;
        _keyring = keyring;
        _idleTimeout = idleTimeout ?? DefaultIdleTimeout;
    }

    public string Name => "kernel.org";

    /// <summary>
    /// A mirror URL is http(s) with a host (exit 2 otherwise, naming the option): the HTTP client cannot fetch anything
    /// else, and it fails on other schemes with exceptions rather than answers.
    /// </summary>
    public static string CheckMirror(string option, string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !IsHttp(uri))
            throw KilnException.BadInput($"--{option}={url}: expected an http:// or https:// URL with a host, such as https://cdn.kernel.org/pub/linux/kernel/v6.x/. " +
                                         "For a tree on disk use --source=PATH.");
        return url;
    }

    private static bool IsHttp(Uri uri) => uri.Scheme is "http" or "https" && uri.Host.Length > 0;

    /// <summary>
    /// A client that gives up quickly when there is no network, so offline runs end fast. It has no overall timeout:
    /// a slow but live download may take long, and a silent server is caught by the idle timeout of every read. It does
    /// not follow redirects: <see cref="GetFollowingRedirects"/> does, to http(s) only (the handler's own fails on a
    /// Location such as file:///).
    /// </summary>
    public static HttpClient CreateClient() => new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10), AllowAutoRedirect = false })
    {
        Timeout = System.Threading.Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// The signed checksum list gives the archive's sha256, which is all the build's identity needs: the archive itself is
    /// downloaded (and checked against it) only when a stage asks for the tree, so a cached kernel costs one small request.
    /// </summary>
    public VerifiedSource Acquire(KernelVersion version, SourceCache cache, IKilnLog log)
    {
        var fileName = $"linux-{version}.tar.xz";
        var treeName = $"{version}-kernel.org";
        if (cache.FindTree(treeName, version) is { } existing)
        {
            log.Info($"Reusing verified source {existing.Directory}");
            return VerifiedSource.Unpacked(existing);
        }

        var sumsUrl = _baseUrl + "sha256sums.asc";
        var sums = Get(sumsUrl, () =>
        {
            using var buffer = new MemoryStream();
            Fetch(sumsUrl, buffer, MaxChecksumListBytes, (_, _) => { });
            return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        });
        var signature = VerifySignature(sumsUrl, sums, log);
        var expected = Sha256Sums.Find(sums, fileName)
                       ?? throw new SourceUnavailableException($"{sumsUrl} does not list {fileName}");

        var url = _baseUrl + fileName;
        var provenance = new SourceProvenance(Name, version.ToString(), url, expected, $"sha256 verified against {sumsUrl} ({signature})");
        log.Verbose($"{sumsUrl}: {fileName} has sha256 {expected}; it is downloaded when a stage needs the tree");
        return VerifiedSource.Packed(version, provenance, () => cache.Unpack(treeName, version, log, () =>
        {
            var archive = Path.Combine(cache.Downloads, fileName);
            if (File.Exists(archive) && SourceCache.FileSha256(archive) == expected)
                log.Info($"Reusing verified download {archive}");
            else
                Download(url, archive, expected, log);
            try
            {
                return new SourceTree(cache.InstallTree(treeName, archive, provenance, log), version, provenance, Reused: false);
            }
            catch (KilnException e) when (e.ExitCode == ExitCodes.Infrastructure)
            {
                // It matched its checksum but cannot be used (corrupt, or unsafe entries): keeping it would fail every rerun.
                File.Delete(archive);
                throw new KilnException(e.ExitCode, $"{e.Message} The download was deleted; check the mirror ({_baseUrl}) and run again.", e);
            }
        }));
    }

    /// <summary>
    /// With a keyring, the clear-signed checksum list must carry a good signature from it (gpgv), or
    /// nothing is downloaded. Without one, the checksums only protect against damaged downloads.
    /// </summary>
    private string VerifySignature(string sumsUrl, string sums, IKilnLog log)
    {
        if (_keyring is null)
        {
            log.Verbose($"{sumsUrl}: signature not checked (no --keyring)");
            return "signature not checked";
        }
        if (!File.Exists(_keyring))
            throw KilnException.BadInput($"--keyring={_keyring}: no such file. Export kernel.org's signing keys with gpg --export KEYID > FILE.");
        var temp = Path.GetTempFileName();
        try
        {
            File.WriteAllText(temp, sums);
            var result = new Command("gpgv", "--keyring", Path.GetFullPath(_keyring), temp)
            {
                AcceptedExitCodes = Enumerable.Range(0, 256).ToArray(),
                Purpose = "gpgv",
            }.Run(log);
            if (result.ExitCode != 0)
                throw new KilnException(ExitCodes.Infrastructure,
                    $"{sumsUrl}: the signature does not verify against {_keyring}: {result.StandardError.Trim()}. Nothing was downloaded; check the mirror and the keyring.");
            log.Info($"{sumsUrl}: good signature ({_keyring})");
            return "signature verified with " + Path.GetFileName(_keyring);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Streams to a temporary file while hashing, and renames it into the cache only if the hash matches.</summary>
    private void Download(string url, string destination, string expectedSha256, IKilnLog log)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        var temp = AtomicFile.TempPathFor(destination);
        SourceCache.RemoveAbandoned(Path.GetDirectoryName(destination)!, AtomicFile.TempPrefix(destination), log);
        try
        {
            log.Info($"Downloading {url}");
            var watch = Stopwatch.StartNew();
            string actual;
            long bytes = 0;
            Get(url, () =>
            {
                using var output = File.Create(temp);
                var lastReport = watch.Elapsed;
                bytes = Fetch(url, output, limit: null, (received, total) =>
                {
                    if (watch.Elapsed - lastReport <= TimeSpan.FromSeconds(5)) return;
                    lastReport = watch.Elapsed;
                    log.Info(total is > 0 ? $"  {received >> 20} of {total >> 20} MiB ({100 * received / total}%)" : $"  {received >> 20} MiB");
                });
                return "";
            });
            using (var stream = File.OpenRead(temp))
                actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            if (actual != expectedSha256)
                throw new KilnException(ExitCodes.Infrastructure,
                    $"{url}: sha256 mismatch: sha256sums.asc says {expectedSha256}, the download is {actual} ({bytes} bytes). " +
                    "The file was discarded; check the mirror (--mirror) and run again.");
            File.Move(temp, destination, overwrite: true);
            log.Info($"Downloaded and verified {bytes >> 20} MiB in {watch.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// GETs <paramref name="url"/> into <paramref name="output"/>; every wait (for the headers, for each read) may last
    /// the idle timeout at most, so a server that goes silent cannot hang the run. Returns the bytes received.
    /// </summary>
    private long Fetch(string url, Stream output, long? limit, Action<long, long?> progress)
    {
        T Within<T>(Func<CancellationToken, Task<T>> step)
        {
            using var idle = new CancellationTokenSource(_idleTimeout);
            try
            {
                return step(idle.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (idle.IsCancellationRequested)
            {
                throw new SourceUnavailableException(
                    $"{url}: the server sent nothing for {_idleTimeout.TotalSeconds:0} s (--download-timeout); check the mirror or raise the timeout.");
            }
        }

        using var response = GetFollowingRedirects(url, uri => Within(token => _http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, token)));
        var total = response.Content.Headers.ContentLength;
        if (limit is { } cap && total > cap)
            throw new SourceUnavailableException($"{url}: the server announces {total} bytes, more than the {cap} a checksum list may have; check the mirror.");
        using var input = Within(token => response.Content.ReadAsStreamAsync(token));
        var buffer = new byte[1 << 20];
        long bytes = 0;
        int read;
        while ((read = Within(token => input.ReadAsync(buffer, token).AsTask())) > 0)
        {
            bytes += read;
            if (limit is { } max && bytes > max)
                throw new SourceUnavailableException($"{url}: more than {max} bytes, more than a checksum list may have; check the mirror.");
            output.Write(buffer, 0, read);
            progress(bytes, total);
        }
        if (total is { } length && bytes != length)
            throw new IOException($"download ended after {bytes} of {length} bytes");
        return bytes;
    }

    private const int MaxRedirects = 5;

    /// <summary>GET (through <paramref name="get"/>), following up to <see cref="MaxRedirects"/> redirects to http(s) URLs; a failure status throws.</summary>
    private static HttpResponseMessage GetFollowingRedirects(string url, Func<Uri, HttpResponseMessage> get)
    {
        var current = new Uri(url);
        for (var redirects = 0; ; redirects++)
        {
            var response = get(current);
            if ((int)response.StatusCode is < 300 or >= 400)
            {
                response.EnsureSuccessStatusCode();
                return response;
            }
            var location = response.Headers.Location;
            response.Dispose();
            if (location is null)
                throw new SourceUnavailableException($"{current}: HTTP {(int)response.StatusCode} without a Location to go to");
            var next = location.IsAbsoluteUri ? location : new Uri(current, location);
            if (!IsHttp(next))
                throw new SourceUnavailableException($"{current}: redirected to {next}; Kiln follows redirects to http(s) URLs only");
            if (redirects == MaxRedirects)
                throw new SourceUnavailableException($"{url}: more than {MaxRedirects} redirects");
            current = next;
        }
    }

    /// <summary>Turns network failures into "unavailable" so the next provider gets its turn.</summary>
    private static T Get<T>(string url, Func<T> fetch)
    {
        try
        {
            return fetch();
        }
        catch (HttpRequestException e) when (e.StatusCode is { } status)
        {
            throw new SourceUnavailableException($"{url}: HTTP {(int)status} {status}");
        }
        catch (Exception e) when (DiskFull.Is(e))
        {
            // Our side ran out of space: not a reason to try the next source, and not the network's fault.
            throw DiskFull.Explain(e);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            throw new SourceUnavailableException($"{url}: {e.GetBaseException().Message}");
        }
    }
}
