using System.Text.Json;

namespace Kiln.Kernel.Bisect;

/// <summary>
/// What every step of one bisect does, written by Bisect and read by each step process that
/// git bisect run starts: the same fragments, base config, build directory and tests for every commit.
/// </summary>
public sealed record BisectPlan
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>The worktree git bisect checks commits out in.</summary>
    public required string Worktree { get; init; }
    /// <summary>The one build directory (O=) all steps share, so each build after the first is incremental.</summary>
    public required string BuildDir { get; init; }
    public required string Arch { get; init; }
    public required string FragmentsRoot { get; init; }
    public IReadOnlyList<string> Variants { get; init; } = [];
    public string BaseConfig { get; init; } = "tinyconfig";
    public string? AllowListPath { get; init; }
    public required string CcacheDir { get; init; }
    public required int Jobs { get; init; }
    /// <summary>Guest test scripts; when there are any, they alone decide good or bad.</summary>
    public IReadOnlyList<string> Tests { get; init; } = [];
    public int? TimeoutSeconds { get; init; }
    public string? Append { get; init; }
    /// <summary>
    /// --patches: each patch file's Kiln-Boot-Expect texts. A step expects those of the patches its commit
    /// holds, as BootTest does for the whole series, so a patch that loses its marker counts as breaking the boot.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> PatchBootExpectations { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>Each step's build log and boot results go to a numbered directory here.</summary>
    public required string StepsDirectory { get; init; }
    /// <summary>JSON lines, one <see cref="StepRecord"/> per step, appended by the steps.</summary>
    public required string StepsFile { get; init; }

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static BisectPlan Load(string path) =>
        JsonSerializer.Deserialize<BisectPlan>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path} holds no bisect plan");
}
