using System.Diagnostics;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Sources;
using Kiln.Kernel.Versions;
using Kiln.Tests.Host;

namespace Kiln.Tests.Sources;

/// <summary>
/// --keyring: sha256sums.asc must carry a good signature from the keyring before anything is downloaded.
/// A real gpg key is made for the test; a second key plays the attacker.
/// </summary>
[Category("Integration")]
public sealed class SignedSumsTests
{
    private static readonly KernelVersion V = new(6, 1, 999);
    private const string Dir = "/pub/linux/kernel/v6.x/";
    private TempDir _work = null!;
    private TinyHttpServer _server = null!;
    private HttpClient _http = null!;
    private byte[] _tarball = null!;

    private string Gpg(string home, params string[] args)
    {
        var psi = new ProcessStartInfo("gpg") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "" }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.EqualTo(0), "gpg " + string.Join(' ', args) + "\n" + output);
        return output;
    }

    private string NewKey(string name)
    {
        var home = Directory.CreateDirectory(Path.Combine(_work.Path, name)).FullName;
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Gpg(home, "--quick-gen-key", $"{name} <{name}@kiln.test>", "ed25519", "sign", "never");
        return home;
    }

    private void ServeSignedSums(string signerHome)
    {
        var sums = _work.File("sha256sums", $"{Tarballs.Sha256(_tarball)}  linux-6.1.999.tar.xz\n");
        Gpg(signerHome, "--clearsign", "--output", sums + ".asc", sums);
        _server.Serve(Dir + "sha256sums.asc", File.ReadAllText(sums + ".asc"));
        _server.Serve(Dir + "linux-6.1.999.tar.xz", _tarball);
    }

    [SetUp]
    public void SetUp()
    {
        _work = new TempDir();
        _server = new TinyHttpServer();
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        _tarball = Tarballs.TarXz(Tarballs.KernelTree("6.1.999", "linux-6.1.999"));
    }

    [TearDown]
    public void TearDown()
    {
        _http.Dispose();
        _server.Dispose();
        _work.Dispose();
    }

    [Test]
    public void A_good_signature_is_accepted_and_recorded_and_a_foreign_one_downloads_nothing()
    {
        var release = NewKey("release");
        var keyring = Path.Combine(_work.Path, "kernel-org.gpg");
        File.WriteAllText(keyring, "");
        Gpg(release, "--output", keyring, "--export");
        var url = _server.BaseUrl.TrimEnd('/') + Dir;

        ServeSignedSums(release);
        var cache = new SourceCache(Path.Combine(_work.Path, "cache"));
        var tree = new KernelOrgProvider(url, _http, keyring).Acquire(V, cache, new RecordingLog()).Tree();
        Assert.That(tree.Provenance.Detail, Does.Contain("signature verified"));

        ServeSignedSums(NewKey("attacker"));
        var other = new SourceCache(Path.Combine(_work.Path, "cache2"));
        var e = Assert.Throws<KilnException>(() => new KernelOrgProvider(url, _http, keyring).Acquire(V, other, new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("signature does not verify"));
        Assert.That(_server.Hits(Dir + "linux-6.1.999.tar.xz"), Is.EqualTo(1), "the tarball is not fetched after a bad signature");
        Assert.That(Directory.Exists(Path.Combine(other.Root, "sources")), Is.False);
    }

    [Test]
    public void A_missing_keyring_file_is_bad_input()
    {
        ServeSignedSums(NewKey("release"));
        var e = Assert.Throws<KilnException>(() => new KernelOrgProvider(_server.BaseUrl.TrimEnd('/') + Dir, _http, "/nonexistent/keyring.gpg")
            .Acquire(V, new SourceCache(Path.Combine(_work.Path, "cache")), new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("--keyring=/nonexistent/keyring.gpg"));
    }
}
