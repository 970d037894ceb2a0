using System.Text.Json;
using System.Text.Json.Serialization;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
namespace Kiln.Kernel.Identity;

/// <summary>
/// kiln.lock: for each series/arch/variant, the config version counter and the recipe it stood for.
/// Kata's history shows the counter is easy to forget; comparing the recipe with the lock tells when.
/// </summary>
public sealed class LockFile
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private LockFile(string path, SortedDictionary<string, LockEntry> entries)
    {
        Path = path;
        Entries = entries;
    }

    public string Path { get; }
    public SortedDictionary<string, LockEntry> Entries { get; }

    public static LockFile Load(string path)
    {
        if (!File.Exists(path)) return new LockFile(path, new SortedDictionary<string, LockEntry>(StringComparer.Ordinal));
        try
        {
            var entries = JsonSerializer.Deserialize<SortedDictionary<string, LockEntry>>(File.ReadAllText(path), Json)
                          ?? new SortedDictionary<string, LockEntry>();
            // Valid JSON with a missing entry or field (a hand edit, a merge) would otherwise fail later with a NullReferenceException.
            foreach (var (name, entry) in entries)
                if (entry is null || entry.RecipeHash is null || entry.Version is null || entry.Files is null)
                    throw KilnException.BadInput($"{path}: entry \"{name}\" lacks ConfigVersion, RecipeHash, Version or Files: not a valid lock file. Restore it from git or delete it and run --target=CacheKey --update-lock.");
            return new LockFile(path, new SortedDictionary<string, LockEntry>(entries, StringComparer.Ordinal));
        }
        catch (JsonException e)
        {
            throw KilnException.BadInput($"{path}:{(e.LineNumber ?? 0) + 1}: not a valid lock file ({e.Message}). Restore it from git or delete it and run --target=CacheKey --update-lock.");
        }
    }

    /// <summary>Compares the recipe with what the lock recorded for the same counter.</summary>
    public LockCheck Check(BuildRecipe recipe, int configVersion)
    {
        if (!Entries.TryGetValue(recipe.LockName, out var entry))
            return new LockCheck(LockStatus.NotRecorded, Array.Empty<string>());
        if (entry.RecipeHash == recipe.Hash)
            return new LockCheck(entry.ConfigVersion == configVersion ? LockStatus.Current : LockStatus.CounterBumped, Array.Empty<string>());
        var changed = Changes(entry, recipe);
        return new LockCheck(entry.ConfigVersion == configVersion ? LockStatus.ChangedWithoutBump : LockStatus.CounterBumped, changed);
    }

    public void Record(BuildRecipe recipe, int configVersion)
    {
        Entries[recipe.LockName] = new LockEntry(configVersion, recipe.Hash, recipe.Version.ToString(),
            recipe.Files.ToDictionary(f => f.Path, f => f.Sha256));
    }

    /// <summary>Writes atomically, so an interrupted run never leaves a torn lock file.</summary>
    public void Save()
    {
        AtomicFile.WriteAllText(Path, JsonSerializer.Serialize(Entries, Json) + "\n");
    }

    private static List<string> Changes(LockEntry entry, BuildRecipe recipe)
    {
        var now = recipe.Files.ToDictionary(f => f.Path, f => f.Sha256);
        var changed = new List<string>();
        if (entry.Version != recipe.Version.ToString()) changed.Add($"version {entry.Version} -> {recipe.Version}");
        foreach (var (path, sha) in now)
        {
            if (!entry.Files.TryGetValue(path, out var old)) changed.Add("added " + path);
            else if (old != sha) changed.Add("changed " + path);
        }
        changed.AddRange(entry.Files.Keys.Where(p => !now.ContainsKey(p)).Select(p => "removed " + p));
        return changed;
    }
}

/// <param name="ConfigVersion">Required in the JSON: a missing counter must not read as 0.</param>
public sealed record LockEntry([property: JsonRequired] int ConfigVersion, string RecipeHash, string Version, Dictionary<string, string> Files);

public enum LockStatus
{
    /// <summary>The lock records this recipe under this counter.</summary>
    Current,
    /// <summary>Nothing recorded yet for this series/arch/variant.</summary>
    NotRecorded,
    /// <summary>The counter moved on since the lock was written: record the new state.</summary>
    CounterBumped,
    /// <summary>The inputs changed but the counter did not: caches keyed by the counter would serve stale kernels.</summary>
    ChangedWithoutBump,
}

public sealed record LockCheck(LockStatus Status, IReadOnlyList<string> Changes);
