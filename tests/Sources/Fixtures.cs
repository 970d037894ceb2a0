using System.Diagnostics;
using System.Formats.Tar;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using NUnit.Framework;

namespace Kiln.Tests.Sources;

/// <summary>Builds small tarballs at runtime (no binary fixtures in git).</summary>
public static class Tarballs
{
    public sealed record Entry(string Name, TarEntryType Type, string? Content = null, string? LinkName = null);

    public static Entry Reg(string name, string content) => new(name, TarEntryType.RegularFile, content);
    public static Entry Dir(string name) => new(name, TarEntryType.Directory);
    public static Entry Symlink(string name, string target) => new(name, TarEntryType.SymbolicLink, LinkName: target);

    public static IReadOnlyList<Entry> KernelTree(string version, string top) =>
        KernelTree(version, top, Array.Empty<Entry>());

    public static IReadOnlyList<Entry> KernelTree(string version, string top, IEnumerable<Entry> extra)
    {
        var parts = version.Split('.');
        return new[]
        {
            Dir(top + "/"),
            Reg(top + "/Makefile", $"# SPDX-License-Identifier: GPL-2.0\nVERSION = {parts[0]}\nPATCHLEVEL = {parts[1]}\nSUBLEVEL = {parts[2]}\nEXTRAVERSION =\nNAME = Test\n"),
            Reg(top + "/Kconfig", "mainmenu \"Linux Kernel Configuration\"\nsource \"init/Kconfig\"\n"),
            Dir(top + "/init/"),
            Reg(top + "/init/Kconfig", "config TEST\n\tbool \"test\"\n"),
            Reg(top + "/init/main.c", "int main(void) { return 0; }\n"),
            Symlink(top + "/init/link.c", "main.c"),
        }.Concat(extra).ToList();
    }

    public static void WriteTar(string path, IEnumerable<Entry> entries)
    {
        using var stream = System.IO.File.Create(path);
        WriteTo(stream, entries);
    }

    public static void WriteTo(Stream stream, IEnumerable<Entry> entries)
    {
        using var writer = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true);
        foreach (var e in entries)
        {
            var entry = new PaxTarEntry(e.Type, e.Name) { Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead };
            if (e.Type == TarEntryType.Directory) entry.Mode |= UnixFileMode.UserExecute;
            if (e.Content is not null) entry.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(e.Content));
            if (e.LinkName is not null) entry.LinkName = e.LinkName;
            writer.WriteEntry(entry);
        }
    }

    /// <summary>A .tar.xz made with the xz CLI, as kernel.org's are.</summary>
    public static byte[] TarXz(IEnumerable<Entry> entries)
    {
        using var tar = new MemoryStream();
        WriteTo(tar, entries);
        return Xz(tar.ToArray());
    }

    public static byte[] Xz(byte[] data)
    {
        var psi = new ProcessStartInfo("xz", "-z -c -0 -T1") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var output = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(output);
        p.StandardInput.BaseStream.Write(data);
        p.StandardInput.Close();
        copy.Wait();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.EqualTo(0), "xz");
        return output.ToArray();
    }

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 (free port) serving fixed responses by path, counting requests.
/// Every response closes its connection. A response may claim more bytes than it sends (a truncated download).
/// </summary>
public sealed class TinyHttpServer : IDisposable
{
    /// <param name="ChunkDelay">When set, the body goes out in 64 KiB chunks with this pause between them (a slow mirror).</param>
    /// <param name="StallAfterBody">After the body the connection stays open and silent until the server is disposed (a stalled mirror).</param>
    /// <param name="Endless">No Content-Length, and the body is sent again and again until the client hangs up.</param>
    /// <param name="Location">A redirect's target (with a 3xx status).</param>
    public sealed record Response(int Status, byte[] Body, long? ClaimedLength = null, TimeSpan? ChunkDelay = null,
        bool StallAfterBody = false, bool Endless = false, string? Location = null);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Dictionary<string, Response> _routes = new();
    private readonly Dictionary<string, int> _hits = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public TinyHttpServer()
    {
        _listener.Start();
        _loop = Task.Run(Loop);
    }

    public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";

    public void Serve(string path, byte[] body) { lock (_routes) _routes[path] = new Response(200, body); }
    public void Serve(string path, string body) => Serve(path, Encoding.UTF8.GetBytes(body));
    public void Serve(string path, Response response) { lock (_routes) _routes[path] = response; }

    public int Hits(string path) { lock (_routes) return _hits.GetValueOrDefault(path); }
    public int TotalHits { get { lock (_routes) return _hits.Values.Sum(); } }

    private async Task Loop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Handle(client));
        }
    }

    private void Handle(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var header = new StringBuilder();
                var one = new byte[1];
                while (!header.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && stream.Read(one, 0, 1) == 1)
                    header.Append((char)one[0]);
                var path = header.ToString().Split(' ') is { Length: > 1 } parts ? parts[1] : "/";
                Response response;
                lock (_routes)
                {
                    _hits[path] = _hits.GetValueOrDefault(path) + 1;
                    response = _routes.TryGetValue(path, out var r) ? r : new Response(404, Encoding.UTF8.GetBytes("not found"));
                }
                var reason = response.Status switch { 200 => "OK", 302 => "Found", _ => "Not Found" };
                var location = response.Location is null ? "" : $"Location: {response.Location}\r\n";
                var length = response.Endless ? "" : $"Content-Length: {response.ClaimedLength ?? response.Body.Length}\r\n";
                var head = $"HTTP/1.1 {response.Status} {reason}\r\n{location}{length}Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
                stream.Write(Encoding.ASCII.GetBytes(head));
                while (response.Endless && !_stop.IsCancellationRequested) stream.Write(response.Body);
                if (response.ChunkDelay is { } delay)
                {
                    for (var offset = 0; offset < response.Body.Length; offset += 1 << 16)
                    {
                        stream.Write(response.Body, offset, Math.Min(1 << 16, response.Body.Length - offset));
                        stream.Flush();
                        Thread.Sleep(delay);
                    }
                }
                else
                {
                    stream.Write(response.Body);
                }
                stream.Flush();
                if (response.StallAfterBody) _stop.Token.WaitHandle.WaitOne();
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (IOException) { }
            catch (SocketException) { }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
