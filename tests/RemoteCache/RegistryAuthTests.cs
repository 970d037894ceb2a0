using System.Net;
using System.Security.Cryptography;
using System.Text;
using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.RemoteCache;
using Kiln.Kernel.Sources;

namespace Kiln.Tests.RemoteCache;

/// <summary>
/// The token flow hosted registries use (GHCR, GitLab): docker-registry's "silly" auth answers 401 with a
/// Bearer challenge naming a realm; Kiln must get a token there (sending its credentials and the repository
/// scope) and present it. The realm here is a small HttpListener that records what it was asked.
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
        var serving = Task.Run(async () =>
        {
            while (realm.IsListening)
            {
                HttpListenerContext request;
                try { request = await realm.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
                lock (requests) requests.Add((request.Request.Headers["Authorization"], request.Request.Url?.Query));
                var body = Encoding.UTF8.GetBytes("{\"token\":\"kiln-test-token\"}");
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
            using (var remote = new RemoteKernelCache(RegistryReference.Parse(registry.Address()), log, credentials))
                Assert.That(remote.Push(entry, identity), Is.True, string.Join("\n", log.Lines));
            using (var remote = new RemoteKernelCache(RegistryReference.Parse(registry.Address()), log, credentials))
                Assert.That(remote.TryPull(identity, new KernelCache(Path.Combine(work, "b"))), Is.Not.Null, string.Join("\n", log.Lines));

            lock (requests)
            {
                Assert.That(requests, Is.Not.Empty);
                Assert.That(requests.Select(r => r.Authorization), Has.All.EqualTo("Basic " + Convert.ToBase64String("ci-bot:s3cret"u8.ToArray())));
                Assert.That(requests.Select(r => Uri.UnescapeDataString(r.Query ?? "")),
                    Has.Some.Contains("scope=repository:kiln/kernels:pull,push").And.Some.Contains("service=kiln-test"));
            }
        }
        finally
        {
            realm.Stop();
            serving.Wait(TimeSpan.FromSeconds(5));
            SourceCache.DeleteDirectory(work);
        }
    }
}
