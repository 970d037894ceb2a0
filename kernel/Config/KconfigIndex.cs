using System.Diagnostics;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Config;

/// <summary>
/// The symbols of a kernel tree's Kconfig files, read from the top <c>Kconfig</c> through its
/// <c>source</c> statements for one architecture: definitions, types, prompts, dependencies
/// (own and inherited from <c>if</c>/<c>menu</c>/<c>choice</c>) and who selects or implies each symbol.
/// </summary>
public sealed class KconfigIndex
{
    private readonly Dictionary<string, KconfigSymbol> _symbols;

    internal KconfigIndex(Dictionary<string, KconfigSymbol> symbols, int fileCount, TimeSpan loadTime)
    {
        _symbols = symbols;
        FileCount = fileCount;
        LoadTime = loadTime;
    }

    /// <summary>Defined symbols, without CONFIG_ prefix.</summary>
    public IEnumerable<KconfigSymbol> Symbols => _symbols.Values.Where(s => s.IsDefined);
    public int FileCount { get; }
    public TimeSpan LoadTime { get; }

    /// <summary>The symbol if a Kconfig file defines it; merely referenced names do not count.</summary>
    public KconfigSymbol? Find(string name) =>
        _symbols.TryGetValue(name, out var symbol) && symbol.IsDefined ? symbol : null;

    /// <summary>Defined symbols whose names are close to <paramref name="name"/> (typos, transpositions), closest first.</summary>
    public IReadOnlyList<string> Suggest(string name, int max = 3)
    {
        // Allow about one edit per four characters: VIRTIO_PCII finds VIRTIO_PCI, short names need near-exact matches.
        var limit = Math.Clamp(name.Length / 4, 1, 3);
        return Symbols
            .Select(s => (s.Name, Distance: EditDistance.Compute(name, s.Name, limit)))
            .Where(c => c.Distance <= limit)
            .OrderBy(c => c.Distance).ThenBy(c => c.Name, StringComparer.Ordinal)
            .Take(max)
            .Select(c => c.Name)
            .ToList();
    }

    /// <summary>Reads <c>Kconfig</c> under <paramref name="sourceDir"/> with <c>$(SRCARCH)</c> set for <paramref name="arch"/>.</summary>
    public static KconfigIndex Load(string sourceDir, Arch arch) => Load(sourceDir, arch.SrcArch);

    public static KconfigIndex Load(string sourceDir, string srcArch)
    {
        var top = Path.Combine(sourceDir, "Kconfig");
        if (!File.Exists(top))
            throw KilnException.BadInput($"{sourceDir} is not a kernel source tree: it has no top-level Kconfig file.");
        var watch = Stopwatch.StartNew();
        var reader = new KconfigReader(sourceDir, new Dictionary<string, string> { ["SRCARCH"] = srcArch });
        reader.ReadFile("Kconfig", includedFrom: null);
        reader.EnsureBlocksClosed();
        return new KconfigIndex(reader.Symbols, reader.FileCount, watch.Elapsed);
    }
}
