using System.Text.Json;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Packaging;

/// <summary>What <c>skopeo inspect</c> says about an image.</summary>
public sealed record SkopeoImageInfo(string Digest, string Architecture, string Os, IReadOnlyList<string> Layers, IReadOnlyDictionary<string, string> Labels);

/// <summary>skopeo, driven through <see cref="Command"/>: inspects OCI layouts and registry images, as their users would read them.</summary>
public sealed class Skopeo
{
    private readonly IKilnLog _log;

    public Skopeo(IKilnLog log) => _log = log;

    public static bool IsInstalled => Prerequisites.OnPath("skopeo");

    /// <param name="reference">A transport reference: <c>oci:DIR:TAG</c>, <c>docker://HOST/REPO:TAG</c>.</param>
    public SkopeoImageInfo Inspect(string reference, bool tlsVerify = true)
    {
        var args = new List<string> { "inspect" };
        if (reference.StartsWith("docker://", StringComparison.Ordinal)) args.Add($"--tls-verify={Bool(tlsVerify)}");
        args.Add(reference);
        var result = Run(args, $"skopeo inspect {reference}");
        using var json = JsonDocument.Parse(result.StandardOutput);
        var root = json.RootElement;
        var labels = root.TryGetProperty("Labels", out var l) && l.ValueKind == JsonValueKind.Object
            ? l.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "")
            : new Dictionary<string, string>();
        return new SkopeoImageInfo(
            root.GetProperty("Digest").GetString()!,
            root.GetProperty("Architecture").GetString()!,
            root.GetProperty("Os").GetString()!,
            root.GetProperty("Layers").EnumerateArray().Select(e => e.GetString()!).ToList(),
            labels);
    }

    private CommandResult Run(List<string> args, string purpose)
    {
        if (!IsInstalled)
            throw KilnException.BadInput("skopeo is not installed: apt-get install skopeo (or run as root / with --install-deps).");
        try
        {
            return new Command("skopeo", args.ToArray()) { Purpose = purpose }.Run(_log);
        }
        catch (CommandFailedException e)
        {
            // A registry that cannot be reached is the infrastructure's fault, not the kernel's.
            throw KilnException.Infrastructure($"{purpose} failed: {e.StandardErrorTail}", e);
        }
    }

    private static string Bool(bool value) => value ? "true" : "false";
}
