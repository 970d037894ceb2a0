using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kiln.Kernel.Bisect;

/// <summary>What one bisect step did to one commit, and how long each phase took.</summary>
public sealed record StepRecord(
    int Number,
    string Sha,
    string Subject,
    StepVerdict Verdict,
    int ExitCode,
    StepPhase Phase,
    string Message,
    double ConfigureSeconds,
    double BuildSeconds,
    double BootSeconds,
    double TotalSeconds,
    string Directory)
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ShortSha => Sha[..Math.Min(12, Sha.Length)];

    /// <summary>Appends one line; each step is its own process, so the file is the only shared state.</summary>
    public void AppendTo(string stepsFile) =>
        File.AppendAllText(stepsFile, JsonSerializer.Serialize(this, Json) + "\n");

    public static IReadOnlyList<StepRecord> ReadAll(string stepsFile) =>
        File.Exists(stepsFile)
            ? File.ReadLines(stepsFile).Where(l => l.Trim().Length > 0)
                .Select(l => JsonSerializer.Deserialize<StepRecord>(l, Json) ?? throw new InvalidDataException($"{stepsFile}: empty step record"))
                .ToList()
            : [];
}
