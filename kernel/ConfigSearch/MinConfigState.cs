using System.Text.Json;
using System.Text.Json.Serialization;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;

namespace Kiln.Kernel.ConfigSearch;

/// <summary>
/// Where a MinConfig search stands, saved after every build so an interrupted run resumes: the best config so far,
/// the groups of options still to try turning off, and what was learnt (options the test needs, options Kconfig keeps on).
/// </summary>
public sealed record MinConfigState
{
    public const int CurrentFormat = 1;

    public int Format { get; init; } = CurrentFormat;
    /// <summary>What the search is for (tree, arch, start config, tests): a state for anything else is never resumed.</summary>
    public required string Key { get; init; }
    public required int StartEnabled { get; init; }
    public required Dictionary<string, string> Best { get; init; }
    /// <summary>Groups of options to try turning off, the next first.</summary>
    public required List<List<string>> Queue { get; init; }
    /// <summary>Options whose turning off (alone) fails the test.</summary>
    public List<string> Required { get; init; } = [];
    /// <summary>Options make olddefconfig keeps on when asked to turn them off (a select or no prompt).</summary>
    public List<string> Forced { get; init; } = [];
    public bool StartPassed { get; init; }
    public List<SearchStep> Steps { get; init; } = [];

    [JsonIgnore] public bool Converged => StartPassed && Queue.Count == 0;

    internal static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
    };

    /// <summary>Written whole to a temporary file and renamed: a killed run leaves the previous state, never half of one.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    /// <summary>
    /// The saved state of the search <paramref name="key"/> names, or null when there is none. A state that does not
    /// read (truncated, edited, another format or search) is not trusted: it is named in a warning and the search starts over.
    /// </summary>
    public static MinConfigState? Load(string path, string key, IKilnLog log)
    {
        if (!File.Exists(path)) return null;
        string? problem;
        try
        {
            var state = JsonSerializer.Deserialize<MinConfigState>(File.ReadAllText(path), Json);
            problem = state is null ? "it is empty"
                : state.Format != CurrentFormat ? $"format {state.Format}, not {CurrentFormat}"
                : state.Key != key ? "it belongs to another search (tree, arch, start config or tests differ)"
                : state.Best is not { Count: > 0 } || state.Queue is null || state.Queue.Any(g => g is not { Count: > 0 }) || state.Required is null || state.Forced is null
                  || state.Steps is null || state.Steps.Any(s => s is null) ? "its contents are inconsistent"
                : null;
            if (problem is null) return state;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            problem = $"it does not read as a MinConfig state ({e.Message})";
        }
        log.Warning($"Ignoring the MinConfig state {path}: {problem}. Starting the search over.");
        return null;
    }
}
