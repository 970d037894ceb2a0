using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.RemoteCache;
using Kiln.Kernel.Sources;

namespace Kiln.Tests.RemoteCache;

/// <summary>
/// The token flow hosted registries use (GHCR, GitLab): docker-registry's "silly" auth answers 401 with a
/// Bearer challenge naming a realm; Kiln must get a token there (sending its credentials and the repository
/// scope) and present it. The realm here is a small HttpListener that records what it was asked; a TCP relay in
/// front of the registry records what the registry received, since "silly" accepts any Authorization header at all.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class RegistryAuthTests
{
    [Test]
    public void A_bearer_challenge_is_answered_with_a_token_from_the_realm()
    {
        var tokenPort = LocalRegistry.FreePort();
        using var realm = new HttpListener();
        realm.Prefixes.Add($"http://127.0.0.1:{tokenPort}/");
        realm.Start();
        var requests = new List<(string? Authorization, string? Query)>();
        // One token per scope, unguessable, so the registry's side shows which one Kiln presented where.
        var pullToken = "pull-" + Guid.NewGuid().ToString("N");
        var pushToken = "push-" + Guid.NewGuid().ToString("N");
        var serving = Task.Run(async () =>
        {
            while (realm.IsListening)
            {
                HttpListenerContext request;
                try { request = await realm.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
                lock (requests) requests.Add((request.Request.Headers["Authorization"], request.Request.Url?.Query));
                var token = Uri.UnescapeDataString(request.Request.Url?.Query ?? "").Contains(":pull,push") ? pushToken : pullToken;
                var body = Encoding.UTF8.GetBytes($"{{\"token\":\"{token}\"}}");
                request.Response.ContentType = "application/json";
                await request.Response.OutputStream.WriteAsync(body);
                request.Response.Close();
            }
        });

        using var registry = LocalRegistry.Start($"""
            auth:
              silly:
                realm: http://127.0.0.1:{tokenPort}/token
                service: kiln-test
            """);
        using var relay = new RecordingRelay(registry.Port);
        var address = $"127.0.0.1:{relay.Port}/kiln/kernels";
        var work = Directory.CreateTempSubdirectory("kiln-auth-").FullName;
        try
        {
            var identity = new CacheIdentity("6.1.192-1", Convert.ToHexStringLower(SHA256.HashData(Guid.NewGuid().ToByteArray())));
            var bzImage = Path.Combine(work, "bzImage");
            File.WriteAllBytes(bzImage, RandomNumberGenerator.GetBytes(4096));
            var entry = new KernelCache(Path.Combine(work, "a")).Store(identity, new Dictionary<string, string> { ["bzImage"] = bzImage },
                hashes => new BuildMetadata(identity.Key, identity.Hash, "recipe", "6.1.192", identity.Key, "x86_64", "", "tinyconfig",
                    new SourceProvenance("test", "6.1.192", "test", new string('0', 64)), new Dictionary<string, string>(),
                    new Dictionary<string, double>(), hashes, Array.Empty<string>(), Array.Empty<string>()));
            var credentials = new RegistryCredentials("ci-bot", "s3cret");
            var log = new RecordingLog();
            using (var remote = new RemoteKernelCache(RegistryReference.Parse(address), log, credentials))
                Assert.That(remote.Push(entry, identity), Is.True, string.Join("\n", log.Lines));
            using (var remote = new RemoteKernelCache(RegistryReference.Parse(address), log, credentials))
                Assert.That(remote.TryPull(identity, new KernelCache(Path.Combine(work, "b"))), Is.Not.Null, string.Join("\n", log.Lines));

            lock (requests)
            {
                Assert.That(requests, Is.Not.Empty);
                Assert.That(requests.Select(r => r.Authorization), Has.All.EqualTo("Basic " + Convert.ToBase64String("ci-bot:s3cret"u8.ToArray())));
                Assert.That(requests.Select(r => Uri.UnescapeDataString(r.Query ?? "")),
                    Has.Some.Contains("scope=repository:kiln/kernels:pull,push").And.Some.Contains("service=kiln-test"));
            }

            // What the registry received: the realm's tokens, each for its scope, and never the credentials themselves.
            var received = relay.Requests();
            var api = received.Where(r => r.Target != "/v2/").ToList();
            Assert.That(api, Has.Count.GreaterThanOrEqualTo(4), string.Join("\n", received));
            var writes = api.Where(r => r.Method is "POST" or "PUT" or "PATCH").ToList();
            Assert.That(writes.Select(r => r.Target), Has.Some.StartsWith("/v2/kiln/kernels/blobs/uploads/").And.Some.StartsWith("/v2/kiln/kernels/manifests/"));
            Assert.That(writes.Select(r => r.Authorization), Has.All.EqualTo("Bearer " + pushToken), string.Join("\n", received));
            Assert.That(api.Where(r => r.Authorization != "Bearer " + pushToken && r.Authorization != "Bearer " + pullToken), Is.Empty,
                "every API request carries a token the realm issued: " + string.Join("\n", received));
            Assert.That(api.Where(r => r.Method == "GET" && r.Target.StartsWith("/v2/kiln/kernels/blobs/", StringComparison.Ordinal)).Select(r => r.Authorization),
                Is.Not.Empty.And.All.EqualTo("Bearer " + pullToken), "the pull presents the pull-scoped token: " + string.Join("\n", received));
            Assert.That(received.Select(r => r.Authorization), Has.None.StartsWith("Basic"), "the credentials go to the realm only");
        }
        finally
        {
            realm.Stop();
            serving.Wait(TimeSpan.FromSeconds(5));
            SourceCache.DeleteDirectory(work);
        }
    }
}

/// <summary>
/// Relays TCP connections to a local port and keeps every byte the clients sent, so a test can read the HTTP
/// requests (method, target, Authorization) exactly as the server behind it received them.
/// </summary>
internal sealed partial class RecordingRelay : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<MemoryStream> _sent = new();
    private readonly int _target;

    public RecordingRelay(int target)
    {
        _target = target;
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public sealed record Request(string Method, string Target, string? Authorization)
    {
        public override string ToString() => $"{Method} {Target} [{Authorization ?? "no Authorization"}]";
    }

    [GeneratedRegex(@"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/1\.[01]\r\n((?:[^\r\n]+\r\n)*)\r\n")]
    private static partial Regex RequestHead();

    /// <summary>The request heads the clients sent so far (a request's bytes reach the log before the server sees them).</summary>
    public IReadOnlyList<Request> Requests()
    {
        var requests = new List<Request>();
        lock (_sent)
            foreach (var stream in _sent)
                foreach (Match m in RequestHead().Matches(Encoding.Latin1.GetString(stream.GetBuffer(), 0, (int)stream.Length)))
                {
                    var authorization = m.Groups[3].Value.Split("\r\n")
                        .FirstOrDefault(h => h.StartsWith("Authorization:", StringComparison.OrdinalIgnoreCase))?["Authorization:".Length..].Trim();
                    requests.Add(new Request(m.Groups[1].Value, m.Groups[2].Value, authorization));
                }
        return requests;
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        var log = new MemoryStream();
        lock (_sent) _sent.Add(log);
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _target);
                var toServer = CopyAsync(client.GetStream(), server.GetStream(), log);
                var toClient = CopyAsync(server.GetStream(), client.GetStream(), null);
                await Task.WhenAny(toServer, toClient);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
        }
    }

    private async Task CopyAsync(NetworkStream from, NetworkStream to, MemoryStream? log)
    {
        var buffer = new byte[1 << 16];
        int read;
        while ((read = await from.ReadAsync(buffer)) > 0)
        {
            if (log is not null) lock (_sent) log.Write(buffer, 0, read);
            await to.WriteAsync(buffer.AsMemory(0, read));
        }
    }

    public void Dispose() => _listener.Stop();
}
