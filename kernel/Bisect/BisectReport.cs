using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kiln.Kernel.IO;

namespace Kiln.Kernel.Bisect;

/// <summary>
/// Writes bisect.json: the range, what its ends did, the first bad commit (or the candidates) and its revert check, the
/// boots per step and the flaky steps, every step and the bisect log.
/// </summary>
public static class BisectReport
{
    public const string FileName = "bisect.json";

    public static JsonObject ToJson(BisectOutcome outcome)
    {
        static JsonObject Commit(CommitInfo c) => new()
        {
            ["sha"] = c.Sha,
            ["subject"] = c.Subject,
            ["author"] = c.Author,
            ["date"] = c.Date,
        };

        static JsonNode? End(StepRecord? step) => step is null ? null : new JsonObject
        {
            ["sha"] = step.Sha,
            ["verdict"] = step.Verdict.ToString().ToLowerInvariant(),
            ["boots"] = step.Boots,
            ["passes"] = step.Passes,
            ["message"] = step.Message,
            ["step"] = step.Number,
        };

        var range = outcome.Range;
        var firstBad = outcome.FirstBad is { } bad ? Commit(bad) : null;
        firstBad?.Add("tested", outcome.FirstBadTested);
        return new JsonObject
        {
            ["status"] = outcome.Status.ToString().ToLowerInvariant(),
            ["repository"] = range.Repository,
            ["version"] = range.Version?.ToString(),
            ["good"] = Commit(range.Good),
            ["bad"] = Commit(range.Bad),
            ["commits"] = range.Commits,
            ["maxDecidingSteps"] = outcome.MaxDecidingSteps,
            ["withinBound"] = outcome.WithinBound,
            ["ends"] = new JsonObject { ["good"] = End(outcome.GoodEnd), ["bad"] = End(outcome.BadEnd) },
            ["repeat"] = outcome.Boots,
            ["flakySteps"] = outcome.Flaky,
            ["firstBad"] = firstBad,
            ["confirmation"] = new JsonObject
            {
                ["status"] = outcome.Confirmation.Label,
                ["message"] = outcome.Confirmation.Message,
                ["step"] = outcome.Confirmation.Step,
            },
            ["candidates"] = new JsonArray(outcome.Candidates.Select(c => (JsonNode)Commit(c)).ToArray()),
            ["problem"] = outcome.Problem,
            ["durationSeconds"] = Math.Round(outcome.Duration.TotalSeconds, 1),
            ["worktreeSeconds"] = outcome.WorktreeSeconds,
            ["worktreeReused"] = outcome.WorktreeReused,
            ["maxOverheadSeconds"] = outcome.MaxOverheadSeconds,
            ["steps"] = JsonSerializer.SerializeToNode(outcome.Steps, StepRecord.Json),
            ["log"] = new JsonArray(outcome.Log.Select(l => (JsonNode)JsonValue.Create(l)).ToArray()),
        };
    }

    public static string Write(BisectOutcome outcome, string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        AtomicFile.WriteAllText(path, ToJson(outcome).ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
        return path;
    }
}
