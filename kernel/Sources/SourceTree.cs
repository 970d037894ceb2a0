using System.Text.Json;
using System.Text.Json.Serialization;
using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Sources;

/// <summary>Where a source tree came from: recorded next to it and in every build's metadata.</summary>
public sealed record SourceProvenance(
    string Provider,
    string Version,
    string Origin,
    string Sha256,
    string? Detail = null)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public const string FileName = ".kiln-source.json";
    public const string LocalPrefix = "local:";

    /// <summary>
    /// The user's own tree (--source=PATH): it can change between runs without its recorded identity changing
    /// (no git, or uncommitted edits), so nothing derived from it may be reused on the strength of that identity.
    /// </summary>
    [JsonIgnore]
    public bool IsLocalTree => Provider.StartsWith(LocalPrefix, StringComparison.Ordinal);

    public void WriteTo(string directory) =>
        File.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Json));

    public static SourceProvenance? ReadFrom(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<SourceProvenance>(File.ReadAllText(path));
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>A verified, extracted kernel source tree; <paramref name="Reused"/> when an earlier run extracted it.</summary>
public sealed record SourceTree(string Directory, KernelVersion Version, SourceProvenance Provenance, bool Reused);
