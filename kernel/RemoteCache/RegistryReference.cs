using System.Net;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.RemoteCache;

/// <summary>
/// Where the remote kernel cache lives: <c>HOST[:PORT]/REPO</c> (e.g. <c>127.0.0.1:5000/kiln/kernels</c>,
/// <c>ghcr.io/org/kiln-cache</c>). Loopback hosts are spoken to over plain HTTP, as docker does for a local
/// registry; any other host over HTTPS unless the value starts with <c>http://</c>.
/// </summary>
public sealed partial record RegistryReference(Uri BaseUri, string Repository)
{
    // The OCI distribution spec's repository name grammar.
    [GeneratedRegex("^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryName();

    public string Host => BaseUri.IsDefaultPort ? BaseUri.Host : $"{BaseUri.Host}:{BaseUri.Port}";

    public override string ToString() => $"{Host}/{Repository}";

    /// <summary>--cache-registry's <c>[http[s]://]HOST[:PORT]/REPO</c>.</summary>
    public static RegistryReference Parse(string value)
    {
        var text = value.Trim();
        string? scheme = null;
        foreach (var prefix in new[] { "http://", "https://" })
            if (text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                scheme = prefix[..^3].ToLowerInvariant();
                text = text[prefix.Length..];
            }
        return Parse(value, "cache-registry", text, scheme);
    }

    /// <param name="value">What the user gave <paramref name="argument"/>, named in the errors.</param>
    /// <param name="text">HOST[:PORT]/REPO, the value without its scheme or transport.</param>
    /// <param name="scheme">http or https; null: plain HTTP for loopback hosts only.</param>
    private static RegistryReference Parse(string value, string argument, string text, string? scheme)
    {
        var slash = text.IndexOf('/');
        if (slash <= 0 || slash == text.Length - 1)
            throw KilnException.BadInput($"--{argument}={value}: expected HOST[:PORT]/REPOSITORY, e.g. 127.0.0.1:5000/kiln/kernels.");
        var host = text[..slash];
        var repository = text[(slash + 1)..].TrimEnd('/');
        if (!RepositoryName().IsMatch(repository))
            throw KilnException.BadInput($"--{argument}={value}: '{repository}' is not a valid repository name (lowercase letters, digits, . _ - separated by /).");
        scheme ??= IsLoopback(host) ? "http" : "https";
        // "oci:" or "dir:" (skopeo's other transports) would pass as a host with an empty port.
        if (host.EndsWith(':') || !Uri.TryCreate($"{scheme}://{host}/", UriKind.Absolute, out var baseUri) || baseUri.AbsolutePath != "/")
            throw KilnException.BadInput($"--{argument}={value}: '{host}' is not a valid HOST[:PORT].");
        return new RegistryReference(baseUri, repository);
    }

    /// <summary>
    /// --push's <c>docker://HOST[:PORT]/REPO</c> (skopeo's name for a registry; <c>HOST/REPO</c> alone too); plain HTTP
    /// with --push-insecure, else as <see cref="Parse"/> decides.
    /// </summary>
    public static RegistryReference ParsePush(string value, bool plainHttp)
    {
        const string transport = "docker://";
        var text = value.Trim();
        if (text.StartsWith(transport, StringComparison.OrdinalIgnoreCase)) text = text[transport.Length..];
        // Another transport (oci:/DIR, dir:/PATH, http://…) is not a registry repository; HOST:PORT/ has digits before its slash.
        if (text.Contains(":/", StringComparison.Ordinal))
            throw KilnException.BadInput($"--push={value}: expected a registry repository, docker://HOST[:PORT]/REPO (add --push-insecure for plain HTTP).");
        return Parse(value, "push", text, plainHttp ? "http" : null);
    }

    private static bool IsLoopback(string hostAndPort)
    {
        var host = Uri.TryCreate("http://" + hostAndPort, UriKind.Absolute, out var uri) ? uri.Host : hostAndPort;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }
}
