using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kiln.Kernel.IO;

namespace Kiln.Kernel.ConfigSearch;

/// <summary>Writes config-bisect.json and min-config.json: the inputs, every build (what it applied, what moved, verdict, times) and the result.</summary>
public static class ConfigSearchReport
{
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string WriteBisect(ConfigBisectOutcome outcome, IReadOnlyList<CulpritOption> culprits, string goodConfig, string badConfig, string path) =>
        Write(path, new JsonObject
        {
            ["status"] = outcome.Status.ToString().ToLowerInvariant(),
            ["goodConfig"] = goodConfig,
            ["badConfig"] = badConfig,
            ["differingOptions"] = Node(outcome.Initial),
            ["builds"] = outcome.Builds,
            ["maxBuilds"] = outcome.MaxBuilds,
            ["withinBound"] = outcome.WithinBound,
            ["culprits"] = Node(culprits),
            ["problem"] = outcome.Problem,
            ["durationSeconds"] = Math.Round(outcome.Steps.Sum(s => s.TotalSeconds), 1),
            ["steps"] = Node(outcome.Steps),
        });

    public static string WriteMinConfig(MinConfigOutcome outcome, string fragment, string statePath, string path)
    {
        var state = outcome.State;
        return Write(path, new JsonObject
        {
            ["status"] = outcome.Status.ToString().ToLowerInvariant(),
            ["converged"] = state.Converged,
            ["startEnabled"] = state.StartEnabled,
            ["bestEnabled"] = outcome.Best.Enabled.Count,
            ["builds"] = state.Steps.Count,
            ["buildsThisRun"] = outcome.BuildsThisRun,
            ["resumed"] = outcome.Resumed,
            ["required"] = Node(state.Required),
            ["forced"] = Node(state.Forced),
            ["left"] = state.Queue.Sum(g => g.Count),
            ["fragment"] = fragment,
            ["state"] = statePath,
            ["steps"] = Node(state.Steps),
        });
    }

    private static JsonNode? Node<T>(T value) => JsonSerializer.SerializeToNode(value, MinConfigState.Json);

    private static string Write(string path, JsonObject report)
    {
        AtomicFile.WriteAllText(path, report.ToJsonString(Pretty) + "\n");
        return path;
    }
}
