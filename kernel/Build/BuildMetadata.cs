using System.Text.Json;
using System.Text.Json.Serialization;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Build.Distribution;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.Build;

/// <summary>metadata.json: what was built, from what, with what, and how long it took.</summary>
public sealed record BuildMetadata(
    string Key,
    string IdentityHash,
    string RecipeHash,
    string Version,
    string Release,
    string Arch,
    string Variant,
    string BaseConfig,
    SourceProvenance Source,
    IReadOnlyDictionary<string, string> Toolchain,
    IReadOnlyDictionary<string, double> DurationsSeconds,
    IReadOnlyDictionary<string, string> Files,
    IReadOnlyList<string> Patches,
    IReadOnlyList<string> Fragments,
    /// <summary>Where the compile jobs ran; absent in entries written before Kiln recorded it.</summary>
    BuildDistribution? Distribution = null,
    /// <summary>Where make ran (host, or the builder image); absent in entries written before Kiln recorded it.</summary>
    RuntimeMetadata? Runtime = null)
{
    public const string FileName = "metadata.json";

    /// <summary>The toolchain that built it (<c>toolchain.name</c>); gcc for entries written before Kiln offered another.</summary>
    [JsonIgnore]
    public Kiln.Kernel.Toolchain BuiltWith => Toolchain.TryGetValue("name", out var name)
        ? Kiln.Kernel.Toolchain.Find(name) ?? throw Diagnostics.KilnException.BadInput($"{FileName} names the toolchain '{name}', which this Kiln does not know ({Kiln.Kernel.Toolchain.Supported}).")
        : Kiln.Kernel.Toolchain.Gcc;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public void Write(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    public static BuildMetadata? Read(string path) => File.Exists(path) ? Parse(File.ReadAllBytes(path)) : null;

    /// <summary>metadata.json's content; null when it is not JSON of this shape.</summary>
    public static BuildMetadata? Parse(byte[] json)
    {
        try
        {
            return JsonSerializer.Deserialize<BuildMetadata>(json, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
