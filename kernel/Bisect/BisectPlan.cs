using System.Text.Json;
using Kiln.Kernel.IO;

namespace Kiln.Kernel.Bisect;

/// <summary>
/// Where every step of one bisect works, written by Bisect and read by each step process that git bisect run
/// starts. What a step builds and how it boots come from the same options as Bisect's (passed on its command line).
/// </summary>
public sealed record BisectPlan
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>The worktree git bisect checks commits out in.</summary>
    public required string Worktree { get; init; }
    /// <summary>The one build directory (O=) all steps share, so each build after the first is incremental.</summary>
    public required string BuildDir { get; init; }
    /// <summary>
    /// --patches: each patch file's Kiln-Boot-Expect texts. A step expects those of the patches its commit
    /// holds, as BootTest does for the whole series, so a patch that loses its marker counts as breaking the boot.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> PatchBootExpectations { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>Each step's build log and boot results go to a numbered directory here.</summary>
    public required string StepsDirectory { get; init; }
    /// <summary>JSON lines, one <see cref="StepRecord"/> per step, appended by the steps.</summary>
    public required string StepsFile { get; init; }

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static BisectPlan Load(string path) =>
        JsonSerializer.Deserialize<BisectPlan>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path} holds no bisect plan");
}
