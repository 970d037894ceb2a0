using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Patches;

/// <summary>
/// The patches Kiln applies to one kernel series: every <c>*.patch</c> file in
/// <c>patches/&lt;major.minor&gt;.x/</c>, in numeric order of the file name prefix.
/// </summary>
public sealed partial class PatchSeries
{
    private PatchSeries(string directory, IReadOnlyList<PatchFile> patches)
    {
        Directory = directory;
        Patches = patches;
        Hash = ComputeHash(patches);
    }

    /// <summary>The series directory (it need not exist: no directory is an empty series).</summary>
    public string Directory { get; }
    /// <summary>Patches in application order: by number, then file name; files without a number last (lint rejects them).</summary>
    public IReadOnlyList<PatchFile> Patches { get; }
    public bool IsEmpty => Patches.Count == 0;
    /// <summary>
    /// Lowercase hex sha256 over the ordered (file name, file sha256) pairs. Anything that changes what gets
    /// applied changes it, so it belongs in the build cache identity and names the patched tree.
    /// </summary>
    public string Hash { get; }

    /// <summary>Every "Kiln-Boot-Expect:" text of the series, for BootTest to find in the serial log.</summary>
    public IReadOnlyList<string> BootExpectations =>
        Patches.SelectMany(p => p.BootExpectations).Select(e => e.Value).ToList();

    /// <summary>"6.1" or "6.1.192" → "6.1.x", the directory name of that series under patches/.</summary>
    public static string SeriesDirectoryName(string kernelVersion)
    {
        var m = SeriesVersion().Match(kernelVersion.Trim());
        if (!m.Success)
            throw KilnException.BadInput($"'{kernelVersion}' is not a kernel version; use a series such as 6.1 or an exact version such as 6.1.192.");
        return $"{m.Groups[1].Value}.{m.Groups[2].Value}.x";
    }

    /// <summary>Loads <c>&lt;patchesRoot&gt;/&lt;major.minor&gt;.x/</c> for a kernel version or series.</summary>
    public static PatchSeries ForKernel(string patchesRoot, string kernelVersion) =>
        Load(Path.Combine(patchesRoot, SeriesDirectoryName(kernelVersion)));

    /// <summary>Loads every <c>*.patch</c> file of a directory; a missing directory is an empty series.</summary>
    public static PatchSeries Load(string directory)
    {
        directory = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(directory)) return new PatchSeries(directory, []);
        var patches = System.IO.Directory.EnumerateFiles(directory, "*.patch")
            .Select(PatchFile.Load)
            .OrderBy(p => p.Number ?? int.MaxValue)
            .ThenBy(p => p.FileName, StringComparer.Ordinal)
            .ToList();
        return new PatchSeries(directory, patches);
    }

    private static string ComputeHash(IEnumerable<PatchFile> patches)
    {
        var text = new StringBuilder();
        foreach (var p in patches) text.Append(p.FileName).Append('\t').Append(p.Sha256).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    [GeneratedRegex(@"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+.].*)?$")]
    private static partial Regex SeriesVersion();
}
