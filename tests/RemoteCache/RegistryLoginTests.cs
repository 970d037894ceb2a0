using System.Text;
using Kiln.Kernel.RemoteCache;

namespace Kiln.Tests.RemoteCache;

/// <summary>Credentials from the files skopeo, podman and docker login write, in containers-auth.json(5)'s order.</summary>
public sealed class RegistryLoginTests
{
    private string _home = "";

    [SetUp]
    public void SetUp() => _home = Directory.CreateTempSubdirectory("kiln-login").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_home, recursive: true);

    private static string Auth(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    private static string Auths(params (string Key, string Auth)[] entries) =>
        System.Text.Json.JsonSerializer.Serialize(new { auths = entries.ToDictionary(e => e.Key, e => new { auth = e.Auth }) });

    private string Write(string relative, string json)
    {
        var path = Path.Combine(_home, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, json);
        return path;
    }

    [Test]
    public void The_first_file_with_an_entry_for_the_host_gives_the_credentials()
    {
        var environment = new Dictionary<string, string?> { ["HOME"] = _home, ["XDG_RUNTIME_DIR"] = Path.Combine(_home, "run") };
        Write(".docker/config.json", Auths(("https://ghcr.io", Auth("docker-user", "d:pass"))));
        Assert.That(RegistryLogin.Find("ghcr.io", environment), Is.EqualTo(new RegistryCredentials("docker-user", "d:pass")),
            "docker's URL-style key, a password with a colon");

        Write("run/containers/auth.json", Auths(("ghcr.io/kiln", Auth("podman-user", "p")), ("other:5000", Auth("o", "o"))));
        Assert.That(RegistryLogin.Find("ghcr.io", environment)!.User, Is.EqualTo("podman-user"), "containers' auth.json before docker's");
        Assert.That(RegistryLogin.Find("other:5000", environment)!.User, Is.EqualTo("o"));
        Assert.That(RegistryLogin.Find("registry.example:443", environment), Is.Null);

        environment["REGISTRY_AUTH_FILE"] = Write("explicit.json", "not json");
        Assert.That(RegistryLogin.Find("ghcr.io", environment)!.User, Is.EqualTo("podman-user"), "an unreadable file is passed over");
    }
}
