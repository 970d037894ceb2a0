using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Versions;
using Kiln.Kernel.Parsing;

namespace Kiln.Kernel.Sources;

/// <summary>
/// A kernel developer's own tree (--source=PATH), used where it is. Its version comes from its Makefile;
/// Kiln builds out of tree (O=), so the tree itself is not written to.
/// </summary>
public sealed class LocalTreeProvider : ISourceProvider
{
    private readonly string _path;

    public LocalTreeProvider(string path) => _path = Path.GetFullPath(path);

    public string Name => SourceProvenance.LocalPrefix + _path;

    public VerifiedSource Acquire(KernelVersion requested, SourceCache cache, IKilnLog log)
    {
        var makefile = Path.Combine(_path, "Makefile");
        if (!Directory.Exists(_path))
            throw KilnException.BadInput($"--source={_path}: no such directory. Give the path of a kernel source tree, or one of auto, kernel.org, debian.");
        if (!File.Exists(makefile) || !File.Exists(Path.Combine(_path, "Kconfig")))
            throw KilnException.BadInput($"--source={_path}: not a kernel source tree (no top-level Makefile and Kconfig).");
        var version = ReadMakefileVersion(makefile)
                      ?? throw KilnException.BadInput($"{makefile}: no VERSION/PATCHLEVEL/SUBLEVEL lines; is this a kernel tree?");
        if (version.SeriesName != requested.SeriesName)
            log.Warning($"--source={_path} holds Linux {version}, not series {requested.SeriesName}; building what the tree holds");
        var provenance = new SourceProvenance(Name, version.ToString(), _path, GitHead(_path) ?? "", "local tree, used in place");
        return VerifiedSource.Unpacked(new SourceTree(_path, version, provenance, Reused: true));
    }

    public static KernelVersion? ReadMakefileVersion(string makefile) => ParseMakefileVersion(File.ReadLines(makefile));

    /// <summary>The version in a top-level Makefile's first lines (VERSION, PATCHLEVEL, SUBLEVEL).</summary>
    public static KernelVersion? ParseMakefileVersion(IEnumerable<string> makefileLines)
    {
        var text = makefileLines.Take(10).ToList();
        int? Field(string name) => text.Select(l => Regex.Match(l, $@"^{name}\s*=\s*(\d+)")).FirstOrDefault(m => m.Success) is { } m ? WholeNumber.Parse(m.Groups[1].Value) : null;
        var (v, p, s) = (Field("VERSION"), Field("PATCHLEVEL"), Field("SUBLEVEL"));
        return v is null || p is null ? null : new KernelVersion(v.Value, p.Value, s ?? 0);
    }

    /// <summary>The commit a git tree is at, as a provenance record (no git process needed).</summary>
    private static string? GitHead(string tree)
    {
        var head = Path.Combine(tree, ".git", "HEAD");
        if (!File.Exists(head)) return null;
        var text = File.ReadAllText(head).Trim();
        if (!text.StartsWith("ref: ", StringComparison.Ordinal)) return text;
        var refFile = Path.Combine(tree, ".git", text[5..]);
        return File.Exists(refFile) ? File.ReadAllText(refFile).Trim() : text;
    }
}
