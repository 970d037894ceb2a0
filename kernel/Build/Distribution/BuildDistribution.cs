using System.Text.Json.Serialization;

namespace Kiln.Kernel.Build.Distribution;

/// <summary>
/// Where a build's compile jobs ran, recorded in metadata.json's "distribution". It is deliberately not part of
/// the cache identity: the same compiler on the same preprocessed input gives the same object, wherever it runs.
/// </summary>
public sealed record BuildDistribution(string Engine, int Jobs)
{
    public const string Distcc = "distcc";
    public const string LocalEngine = "local";

    /// <summary>The host list the user gave (--distcc-hosts), when one was given.</summary>
    public string? Requested { get; init; }
    /// <summary>The hosts the build was sent to: those that answered the probe.</summary>
    public IReadOnlyList<string>? Hosts { get; init; }
    /// <summary>Global distcc options passed along (--randomize, --localslots=N).</summary>
    public IReadOnlyList<string>? Options { get; init; }
    public IReadOnlyList<string>? Unreachable { get; init; }
    /// <summary>Why a requested farm was not used.</summary>
    public string? Fallback { get; init; }
    /// <summary>"distcc 3.4 x86_64-pc-linux-gnu".</summary>
    public string? EngineVersion { get; init; }

    public static BuildDistribution Local(int jobs) => new(LocalEngine, jobs);

    [JsonIgnore]
    public bool IsDistributed => Engine == Distcc;

    /// <summary>
    /// What make's environment needs: ccache stays in front (a hit never leaves the machine) and hands misses to
    /// distcc through CCACHE_PREFIX. A local build clears an inherited CCACHE_PREFIX so "local" is the truth.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyDictionary<string, string?> Environment => IsDistributed
        ? new Dictionary<string, string?>
        {
            ["CCACHE_PREFIX"] = "distcc",
            ["DISTCC_HOSTS"] = string.Join(' ', (Options ?? Array.Empty<string>()).Concat(Hosts ?? Array.Empty<string>())),
        }
        : new Dictionary<string, string?> { ["CCACHE_PREFIX"] = null };

    /// <summary>"through distcc on 127.0.0.1:3632/2 127.0.0.2:3633/2" or "locally", for log lines.</summary>
    public string Describe() => IsDistributed ? $"through distcc on {string.Join(' ', Hosts ?? Array.Empty<string>())}" : "locally";
}
