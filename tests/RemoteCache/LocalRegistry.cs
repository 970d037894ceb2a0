using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Kiln.Tests.RemoteCache;

/// <summary>
/// Debian's docker-registry (distribution 2.8) on 127.0.0.1 with a free port and its own storage, for
/// the remote cache tests; stopped and removed on dispose.
/// </summary>
public sealed class LocalRegistry : IDisposable
{
    private const string Binary = "/usr/bin/docker-registry";
    private readonly Process _process;

    private LocalRegistry(Process process, int port, string root)
    {
        _process = process;
        Port = port;
        Root = root;
    }

    public int Port { get; }
    public string Root { get; }
    public string Storage => Path.Combine(Root, "storage");
    public string Address(string repository = "kiln/kernels") => $"127.0.0.1:{Port}/{repository}";

    /// <param name="auth">An <c>auth:</c> section for the registry's config (already indented by two spaces per level).</param>
    public static LocalRegistry Start(string? auth = null)
    {
        if (!File.Exists(Binary))
            Assert.Fail($"{Binary} is missing: apt-get install -y docker-registry (.ci/run installs it)");
        var root = Directory.CreateTempSubdirectory("kiln-registry-").FullName;
        var port = FreePort();
        var config = Path.Combine(root, "config.yml");
        File.WriteAllText(config, $"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {Path.Combine(root, "storage")}
            http:
              addr: 127.0.0.1:{port}
            """ + (auth is null ? "" : "\n" + auth));
        var psi = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add(config);
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var registry = new LocalRegistry(process, port, root);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (process.HasExited)
            {
                registry.Dispose();
                Assert.Fail($"docker-registry exited with {process.ExitCode} on start");
            }
            try
            {
                // 401 is an answer too: a registry with auth configured is up.
                if (http.GetAsync($"http://127.0.0.1:{port}/v2/").GetAwaiter().GetResult().StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized)
                    return registry;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            Thread.Sleep(100);
        }
        registry.Dispose();
        Assert.Fail("docker-registry did not answer within 20 s");
        return null!;
    }

    /// <summary>A port nothing listens on (for "registry down").</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The file that holds a blob's bytes in the registry's storage (distribution's layout).</summary>
    public string BlobPath(string digest)
    {
        var hex = digest["sha256:".Length..];
        return Path.Combine(Storage, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        finally
        {
            _process.Dispose();
            if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
        }
    }
}
