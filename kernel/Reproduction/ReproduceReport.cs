using System.Text;
using System.Text.Json;
using Kiln.Kernel.Build;
using Kiln.Kernel.IO;

namespace Kiln.Kernel.Reproduction;

/// <summary>Reproduce's verdict: every artifact of the cache entry against the rebuild's, and where the report is.</summary>
public sealed record ReproduceReport(CachedKernel Cached, IReadOnlyList<FileComparison> Files, RebuildPlace Place, string ObservedInside,
    TimeSpan Duration, string ReportDir)
{
    public const string JsonName = "reproduce.json";
    public const string TextName = "reproduce.txt";

    public bool Reproducible => Files.All(f => f.Identical);
    public IEnumerable<FileComparison> Differing => Files.Where(f => !f.Identical);
    public string JsonPath => Path.Combine(ReportDir, JsonName);
    public string TextPath => Path.Combine(ReportDir, TextName);

    public void Write()
    {
        var json = new
        {
            reproducible = Reproducible,
            release = Cached.Metadata.Release,
            identity_hash = Cached.Metadata.IdentityHash,
            cached_entry = Cached.Directory,
            rebuild = new
            {
                tree = Place.SourceDir,
                build_dir = Place.BuildDir,
                ccache = false,
                uid = Place.Disguise.Uid,
                host_name = Place.Disguise.HostName,
                clock_offset = Place.Disguise.ClockOffset,
                observed_inside = ObservedInside,
                build_log = Place.BuildLog,
            },
            duration_seconds = Math.Round(Duration.TotalSeconds, 1),
            files = Files.Select(f => new
            {
                name = f.Name,
                identical = f.Identical,
                cached_sha256 = f.CachedSha256,
                rebuilt_sha256 = f.RebuiltSha256,
                where = f.Where,
                sections = f.Sections,
                diffoscope = f.Diffoscope,
            }),
        };
        AtomicFile.WriteAllText(JsonPath, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        AtomicFile.WriteAllText(TextPath, Render());
    }

    /// <summary>The readable report: the verdict, how the rebuild differed from the cached build's, then each file.</summary>
    public string Render()
    {
        var text = new StringBuilder();
        text.AppendLine(Reproducible
            ? $"REPRODUCIBLE: Linux {Cached.Metadata.Release}: all {Files.Count} artifacts of {Cached.Directory} are byte for byte the rebuild's"
            : $"NOT REPRODUCIBLE: Linux {Cached.Metadata.Release}: {string.Join(", ", Differing.Select(f => f.Name))} differ from the rebuild's");
        text.AppendLine($"Rebuild: tree copied to {Place.SourceDir}, empty build directory {Place.BuildDir}, no ccache, " +
                        $"uid {Place.Disguise.Uid}, host name {Place.Disguise.HostName}, clock {Place.Disguise.ClockOffset} (seen inside: {ObservedInside}); log {Place.BuildLog}");
        text.AppendLine();
        foreach (var file in Files)
        {
            text.AppendLine($"{(file.Identical ? "same     " : "DIFFERENT")} {file.Name}  cached {Short(file.CachedSha256)}  rebuilt {Short(file.RebuiltSha256)}");
            foreach (var line in file.Where) text.AppendLine("    " + line);
            if (file.Diffoscope is not null) text.AppendLine("    diffoscope: " + file.Diffoscope);
        }
        return text.ToString();
    }

    public static string Short(string? sha256) => sha256 is null ? "(none)" : sha256[..12];
}
