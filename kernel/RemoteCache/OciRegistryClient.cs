using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kiln.Kernel.RemoteCache;

/// <summary>The registry could not be used: unreachable, timed out, refused, or answered unexpectedly.</summary>
public sealed class RegistryUnavailableException : Exception
{
    public RegistryUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>What the registry served is not what it claims to be (digest, size, or content).</summary>
public sealed class InvalidArtifactException : Exception
{
    public InvalidArtifactException(string message) : base(message) { }
}

/// <summary>User name and password (or token) for a registry that asks for them.</summary>
public sealed record RegistryCredentials(string User, string Password)
{
    /// <summary>The prefixes of the environment variables (<c>_USER</c>, <c>_PASSWORD</c>) that hold them: the remote cache's, --push's.</summary>
    public const string CacheVariables = "KILN_CACHE_REGISTRY";
    public const string PushVariables = "KILN_PUSH";
}

/// <summary>A manifest or index as the registry served it: its bytes, their digest and the media type it was served as.</summary>
public sealed record RegistryManifest(byte[] Body, string Digest, string MediaType);

/// <summary>
/// The few calls of the OCI distribution HTTP API the remote cache and --push need: manifests and indexes by tag,
/// blobs by digest, monolithic blob upload (POST then PUT). Plain HttpClient keeps Kiln free of oras/skopeo and lets
/// the cache tell "registry down" (warn, build locally) from "content corrupt" (warn, rebuild).
/// Authentication follows the registry's challenge: anonymous, Basic, or a Bearer token from its realm.
/// </summary>
public sealed partial class OciRegistryClient : IDisposable
{
    private const long MaxManifestBytes = 4 << 20;
    private readonly HttpClient _http;
    private readonly RegistryReference _registry;
    private readonly RegistryCredentials? _credentials;
    private readonly string _credentialVariables;
    // null: not authorized yet; false: for pulls; true: for pushes too (or the registry is anonymous).
    private bool? _authorizedForPush;
    private AuthenticationHeaderValue? _challenge;

    /// <param name="credentialVariables">Where the user gives credentials (<see cref="RegistryCredentials.CacheVariables"/>), named when they are missing.</param>
    public OciRegistryClient(RegistryReference registry, RegistryCredentials? credentials = null, TimeSpan? connectTimeout = null,
        string credentialVariables = RegistryCredentials.CacheVariables)
    {
        _registry = registry;
        _credentials = credentials;
        _credentialVariables = credentialVariables;
        // A down registry must cost seconds, not minutes; blob transfers themselves may take a while.
        var handler = new SocketsHttpHandler { ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(10) };
        _http = new HttpClient(handler) { BaseAddress = registry.BaseUri, Timeout = TimeSpan.FromMinutes(15) };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("kiln", "1"));
    }

    public void Dispose() => _http.Dispose();

    private string Repo => _registry.Repository;

    /// <summary>
    /// The manifest or index under <paramref name="reference"/> (tag or digest), its digest and media type; null when
    /// there is none.
    /// </summary>
    public async Task<RegistryManifest?> GetManifestAsync(string reference, CancellationToken cancel = default)
    {
        await AuthenticateAsync(push: false, cancel);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{Repo}/manifests/{reference}");
        foreach (var type in AcceptedManifestTypes) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        using var response = await SendAsync(request, cancel);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        await EnsureAsync(response, "get manifest " + reference, cancel, HttpStatusCode.OK);
        // Registries cap manifests at 4 MiB; a larger answer is not one, and is not read into memory.
        if (response.Content.Headers.ContentLength is > MaxManifestBytes)
            throw new InvalidArtifactException($"manifest {reference} is {response.Content.Headers.ContentLength} bytes, more than a manifest may be");
        var body = await response.Content.ReadAsByteArrayAsync(cancel);
        if (body.Length > MaxManifestBytes)
            throw new InvalidArtifactException($"manifest {reference} is {body.Length} bytes, more than a manifest may be");
        var digest = DigestOf(body);
        // The registry names the digest it stored; bytes that do not hash to it were changed on the way or at rest.
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var claimed) && claimed.FirstOrDefault() is { } stated && stated != digest)
            throw new InvalidArtifactException($"manifest {reference} hashes to {digest}, but the registry says {stated}");
        return new RegistryManifest(body, digest, response.Content.Headers.ContentType?.MediaType ?? OciManifest.ManifestMediaType);
    }

    // Kiln's own manifests and indexes, and Docker's forms of both, which older tools may have left under a tag.
    private static readonly string[] AcceptedManifestTypes =
    [
        OciManifest.ManifestMediaType, OciIndex.IndexMediaType,
        OciManifest.DockerManifestMediaType, OciIndex.DockerManifestListMediaType,
    ];

    public static string DigestOf(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    public async Task<bool> BlobExistsAsync(string digest, CancellationToken cancel = default)
    {
        await AuthenticateAsync(push: false, cancel);
        using var request = new HttpRequestMessage(HttpMethod.Head, $"v2/{Repo}/blobs/{digest}");
        using var response = await SendAsync(request, cancel);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        await EnsureAsync(response, "check blob " + digest, cancel, HttpStatusCode.OK);
        return true;
    }

    /// <summary>Streams a blob to <paramref name="path"/>, refusing more bytes than declared and a digest that differs.</summary>
    public async Task DownloadBlobAsync(OciDescriptor blob, string path, CancellationToken cancel = default)
    {
        await using var output = File.Create(path);
        await CopyBlobAsync(blob, output, cancel);
    }

    /// <summary>A small blob (an image config, a metadata file) in memory, checked like a download.</summary>
    public async Task<byte[]> ReadBlobAsync(OciDescriptor blob, long maxBytes, CancellationToken cancel = default)
    {
        if (blob.Size > maxBytes) throw new InvalidArtifactException($"blob {blob.Digest} is {blob.Size} bytes, more than the {maxBytes} expected");
        using var output = new MemoryStream();
        await CopyBlobAsync(blob, output, cancel);
        return output.ToArray();
    }

    private async Task CopyBlobAsync(OciDescriptor blob, Stream output, CancellationToken cancel)
    {
        var expected = ParseSha256(blob.Digest) ?? throw new InvalidArtifactException($"unsupported digest {blob.Digest}");
        await AuthenticateAsync(push: false, cancel);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{Repo}/blobs/{blob.Digest}");
        using var response = await SendAsync(request, cancel, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw new InvalidArtifactException($"blob {blob.Digest} is listed in the manifest but missing from the registry");
        await EnsureAsync(response, "get blob " + blob.Digest, cancel, HttpStatusCode.OK);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        await using (var input = await response.Content.ReadAsStreamAsync(cancel))
        {
            var buffer = new byte[1 << 16];
            int read;
            while ((read = await ReadAsync(input, buffer, blob.Digest, cancel)) > 0)
            {
                total += read;
                if (total > blob.Size) throw new InvalidArtifactException($"blob {blob.Digest} is larger than the {blob.Size} bytes its manifest declares");
                hash.AppendData(buffer, 0, read);
                await output.WriteAsync(buffer.AsMemory(0, read), cancel);
            }
        }
        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (total != blob.Size) throw new InvalidArtifactException($"blob {blob.Digest} has {total} bytes, its manifest declares {blob.Size}");
        if (actual != expected) throw new InvalidArtifactException($"blob {blob.Digest} hashes to sha256:{actual}");
    }

    // A connection that breaks mid-blob is the registry's (or network's) failure, not a corrupt artifact.
    private static async Task<int> ReadAsync(Stream input, byte[] buffer, string digest, CancellationToken cancel)
    {
        try
        {
            return await input.ReadAsync(buffer, cancel);
        }
        catch (IOException e)
        {
            throw new RegistryUnavailableException($"reading blob {digest}: {e.Message}", e);
        }
    }

    /// <summary>Uploads a blob in one request (POST for an upload session, PUT with the digest), unless the registry has it.</summary>
    public async Task UploadBlobAsync(string digest, Func<Stream> open, long size, CancellationToken cancel = default)
    {
        await AuthenticateAsync(push: true, cancel);
        if (await BlobExistsAsync(digest, cancel)) return;
        Uri location;
        using (var start = new HttpRequestMessage(HttpMethod.Post, $"v2/{Repo}/blobs/uploads/"))
        using (var response = await SendAsync(start, cancel))
        {
            await EnsureAsync(response, "start blob upload", cancel, HttpStatusCode.Accepted);
            location = response.Headers.Location ?? throw new RegistryUnavailableException("the registry started an upload without a Location");
        }
        if (!location.IsAbsoluteUri) location = new Uri(_registry.BaseUri, location);
        var put = new UriBuilder(location);
        put.Query = (put.Query.Length > 1 ? put.Query[1..] + "&" : "") + "digest=" + Uri.EscapeDataString(digest);
        await using var stream = open();
        using var request = new HttpRequestMessage(HttpMethod.Put, put.Uri) { Content = new StreamContent(stream) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Content.Headers.ContentLength = size;
        using var done = await SendAsync(request, cancel);
        await EnsureAsync(done, "upload blob " + digest, cancel, HttpStatusCode.Created);
    }

    /// <summary>Stores a manifest (or, with <paramref name="mediaType"/> the index type, an index) under <paramref name="tag"/>.</summary>
    public async Task PutManifestAsync(string tag, byte[] manifest, string mediaType = OciManifest.ManifestMediaType, CancellationToken cancel = default)
    {
        await AuthenticateAsync(push: true, cancel);
        using var request = new HttpRequestMessage(HttpMethod.Put, $"v2/{Repo}/manifests/{tag}") { Content = new ByteArrayContent(manifest) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await SendAsync(request, cancel);
        await EnsureAsync(response, "put manifest " + tag, cancel, HttpStatusCode.Created);
    }

    /// <summary>
    /// Answers the registry's challenge before the first request that needs it: the probe of /v2/ (sent without
    /// credentials) says whether and how; a pull-only token is replaced by a pull,push one before a push.
    /// </summary>
    public async Task AuthenticateAsync(bool push, CancellationToken cancel = default)
    {
        if (_authorizedForPush == true || (_authorizedForPush == false && !push)) return;
        if (_challenge is null)
        {
            using var probe = new HttpRequestMessage(HttpMethod.Get, "v2/");
            using var response = await SendAsync(probe, cancel);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                await EnsureAsync(response, "reach the registry API", cancel, HttpStatusCode.OK);
                _authorizedForPush = true;  // anonymous access: nothing to ask for
                return;
            }
            _challenge = response.Headers.WwwAuthenticate.FirstOrDefault()
                         ?? throw new RegistryUnavailableException("the registry requires authentication but sent no challenge");
        }
        if (_challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            var credentials = _credentials ?? throw new RegistryUnavailableException($"the registry requires a user name and password ({_credentialVariables}_USER, {_credentialVariables}_PASSWORD)");
            _http.DefaultRequestHeaders.Authorization = BasicHeader(credentials);
            _authorizedForPush = true;
            return;
        }
        if (!_challenge.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            throw new RegistryUnavailableException($"the registry asks for {_challenge.Scheme} authentication, which Kiln does not speak");
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await FetchTokenAsync(_challenge.Parameter ?? "", push, cancel));
        _authorizedForPush = push;
    }

    [GeneratedRegex("(\\w+)=\"([^\"]*)\"")]
    private static partial Regex ChallengeParameter();

    private async Task<string> FetchTokenAsync(string parameters, bool push, CancellationToken cancel)
    {
        var values = ChallengeParameter().Matches(parameters).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.OrdinalIgnoreCase);
        if (!values.TryGetValue("realm", out var realm))
            throw new RegistryUnavailableException("the registry's Bearer challenge names no realm");
        var query = new List<string>();
        if (values.TryGetValue("service", out var service)) query.Add("service=" + Uri.EscapeDataString(service));
        query.Add("scope=" + Uri.EscapeDataString($"repository:{Repo}:" + (push ? "pull,push" : "pull")));
        using var request = new HttpRequestMessage(HttpMethod.Get, realm + (realm.Contains('?') ? "&" : "?") + string.Join("&", query));
        if (_credentials is not null) request.Headers.Authorization = BasicHeader(_credentials);
        using var response = await SendAsync(request, cancel);
        await EnsureAsync(response, "get a registry token", cancel, HttpStatusCode.OK);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancel));
        foreach (var name in new[] { "token", "access_token" })
            if (json.RootElement.TryGetProperty(name, out var token) && token.GetString() is { Length: > 0 } value)
                return value;
        throw new RegistryUnavailableException("the registry's token service answered without a token");
    }

    private static AuthenticationHeaderValue BasicHeader(RegistryCredentials credentials) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.User}:{credentials.Password}")));

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancel,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        try
        {
            return await _http.SendAsync(request, completion, cancel);
        }
        catch (HttpRequestException e)
        {
            throw new RegistryUnavailableException($"{request.Method} {request.RequestUri}: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!cancel.IsCancellationRequested)
        {
            throw new RegistryUnavailableException($"{request.Method} {request.RequestUri}: timed out", e);
        }
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string what, CancellationToken cancel, HttpStatusCode expected)
    {
        if (response.StatusCode == expected) return;
        var body = await response.Content.ReadAsStringAsync(cancel);
        if (body.Length > 300) body = body[..300] + "…";
        throw new RegistryUnavailableException($"{what}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}" +
                                               (body.Length > 0 ? ": " + body.Trim() : ""));
    }

    private static string? ParseSha256(string digest) =>
        digest.StartsWith("sha256:", StringComparison.Ordinal) && digest.Length == 71 && digest[7..].All(Uri.IsHexDigit)
            ? digest[7..].ToLowerInvariant() : null;
}
