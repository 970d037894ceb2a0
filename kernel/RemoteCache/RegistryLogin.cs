using System.Text;
using System.Text.Json;

namespace Kiln.Kernel.RemoteCache;

/// <summary>
/// The credentials <c>skopeo login</c>, <c>podman login</c> or <c>docker login</c> saved for a registry, read from the
/// files those tools write, in containers-auth.json(5)'s order: <c>$REGISTRY_AUTH_FILE</c>,
/// <c>$XDG_RUNTIME_DIR/containers/auth.json</c>, <c>~/.config/containers/auth.json</c>, then docker's
/// <c>$DOCKER_CONFIG/config.json</c> (default <c>~/.docker/config.json</c>). Only inline <c>auth</c> entries are read;
/// a credential helper's are not.
/// </summary>
public static class RegistryLogin
{
    public static RegistryCredentials? Find(string host, IReadOnlyDictionary<string, string?> environment)
    {
        string? Env(string name) => environment.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v : null;
        var home = Env("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var files = new[]
        {
            Env("REGISTRY_AUTH_FILE"),
            Env("XDG_RUNTIME_DIR") is { } runtime ? Path.Combine(runtime, "containers", "auth.json") : null,
            Path.Combine(home, ".config", "containers", "auth.json"),
            Path.Combine(Env("DOCKER_CONFIG") ?? Path.Combine(home, ".docker"), "config.json"),
        };
        return files.OfType<string>().Where(File.Exists).Select(f => Read(f, host)).FirstOrDefault(c => c is not null);
    }

    /// <summary>The entry for <paramref name="host"/> (docker's Hub key and URL-style keys included); null when there is none or the file is not JSON.</summary>
    internal static RegistryCredentials? Read(string file, string host)
    {
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            if (!json.RootElement.TryGetProperty("auths", out var auths) || auths.ValueKind != JsonValueKind.Object) return null;
            foreach (var entry in auths.EnumerateObject())
            {
                var key = entry.Name.Replace("https://", "").Replace("http://", "").Split('/')[0];
                if (!key.Equals(host, StringComparison.OrdinalIgnoreCase) || !entry.Value.TryGetProperty("auth", out var auth)) continue;
                var pair = Encoding.UTF8.GetString(Convert.FromBase64String(auth.GetString() ?? ""));
                var colon = pair.IndexOf(':');
                if (colon > 0) return new RegistryCredentials(pair[..colon], pair[(colon + 1)..]);
            }
            return null;
        }
        catch (Exception e) when (e is JsonException or FormatException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return null;
        }
    }
}
