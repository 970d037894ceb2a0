using System.Text;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.Reproduction;

/// <summary>
/// One artifact of the cached build against the rebuild's. <paramref name="Where"/> says where they differ (empty when
/// identical), <paramref name="Sections"/> names the ELF sections that differ, <paramref name="Diffoscope"/> is
/// diffoscope's report when it ran.
/// </summary>
public sealed record FileComparison(string Name, string? CachedSha256, string? RebuiltSha256, IReadOnlyList<string> Where,
    IReadOnlyList<string> Sections, string? Diffoscope)
{
    public bool Identical => CachedSha256 is not null && CachedSha256 == RebuiltSha256;
}

/// <summary>
/// Compares two builds' artifacts and, where they differ, shows where: diffoscope's report when diffoscope is installed,
/// and always Kiln's own (cheap) account: for ELF files the sections whose bytes differ and the symbol at the first
/// difference, for text the first differing line, for a tar the member, for anything else the first differing offset.
/// </summary>
public sealed class ArtifactComparison(IKilnLog log)
{
    /// <summary>Compares <paramref name="cached"/> with <paramref name="rebuilt"/>; diffoscope's report goes to <paramref name="reportDir"/>.</summary>
    public FileComparison Compare(string name, string? cached, string? rebuilt, string reportDir)
    {
        var cachedSha = cached is not null && File.Exists(cached) ? SourceCache.FileSha256(cached) : null;
        var rebuiltSha = rebuilt is not null && File.Exists(rebuilt) ? SourceCache.FileSha256(rebuilt) : null;
        if (cachedSha is null || rebuiltSha is null)
        {
            var missing = cachedSha is null ? "not in the cached build" : "not made by the rebuild";
            return new FileComparison(name, cachedSha, rebuiltSha, new[] { missing }, Array.Empty<string>(), null);
        }
        if (cachedSha == rebuiltSha) return new FileComparison(name, cachedSha, rebuiltSha, Array.Empty<string>(), Array.Empty<string>(), null);

        var where = new List<string>();
        var sections = new List<string>();
        if (ElfSections.IsElf(cached!) && ElfSections.IsElf(rebuilt!)) DescribeElf(cached!, rebuilt!, where, sections);
        else where.Add(DescribeBytes(name, cached!, rebuilt!));
        return new FileComparison(name, cachedSha, rebuiltSha, where, sections, RunDiffoscope(name, cached!, rebuilt!, reportDir));
    }

    private void DescribeElf(string cached, string rebuilt, List<string> where, List<string> differing)
    {
        var ours = ElfSections.Read(cached, log);
        var theirs = ElfSections.Read(rebuilt, log);
        var byName = ours.GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        ElfSection? first = null;
        foreach (var section in theirs)
        {
            if (!byName.Remove(section.Name, out var old))
            {
                differing.Add(section.Name);
                where.Add($"section {section.Name}: only in the rebuild");
                continue;
            }
            if (old.Sha256 == section.Sha256 && old.Size == section.Size) continue;
            differing.Add(section.Name);
            where.Add($"section {section.Name}: " + (old.Size == section.Size ? $"{section.Size} bytes, contents differ" : $"{old.Size} bytes cached, {section.Size} rebuilt"));
            first ??= old.Type == "NOBITS" ? null : section;
            if (first == section) where[^1] += FirstDifferenceIn(cached, old, rebuilt, section);
        }
        foreach (var gone in byName.Values)
        {
            differing.Add(gone.Name);
            where.Add($"section {gone.Name}: only in the cached build");
        }
        if (differing.Count == 0) where.Add("every section is identical: the ELF header, program headers or section table differ");
    }

    /// <summary>", first at +0x1c4 (address 0x…), in symbol linux_banner": where in the section the bytes start to differ.</summary>
    private string FirstDifferenceIn(string cached, ElfSection old, string rebuilt, ElfSection section)
    {
        byte[] a, b;
        using (var file = File.OpenRead(cached)) a = ElfSections.Slice(file, old.Offset, old.Size);
        using (var file = File.OpenRead(rebuilt)) b = ElfSections.Slice(file, section.Offset, section.Size);
        var delta = FirstDifference(a, b);
        var address = section.Address + (ulong)delta;
        var symbol = ElfSections.Near(ElfSections.Symbols(rebuilt, log), section, address);
        return $", first at +0x{delta:x} (address 0x{address:x})" +
               (symbol is null ? "" : $", in or after symbol {symbol.Name}" + (symbol.Value == address ? "" : $"+0x{address - symbol.Value:x}"));
    }

    /// <summary>Not ELF: the first differing line of text, the tar member, or the first differing byte.</summary>
    private static string DescribeBytes(string name, string cached, string rebuilt)
    {
        var a = File.ReadAllBytes(cached);
        var b = File.ReadAllBytes(rebuilt);
        var offset = FirstDifference(a, b);
        var sizes = a.Length == b.Length ? $"{a.Length} bytes each" : $"{a.Length} bytes cached, {b.Length} rebuilt";
        if (IsText(a) && IsText(b))
        {
            var lineNumber = a.AsSpan(0, (int)Math.Min(offset, a.Length)).Count((byte)'\n') + 1;
            return $"line {lineNumber} differs ({sizes}): cached '{LineAt(a, offset)}', rebuilt '{LineAt(b, offset)}'";
        }
        var member = name.EndsWith(".tar", StringComparison.Ordinal) ? TarMemberAt(b, offset) : null;
        return $"first difference at byte {offset} (0x{offset:x}; {sizes})" + (member is null ? "" : $", in member {member}");
    }

    public static long FirstDifference(byte[] a, byte[] b)
    {
        var common = Math.Min(a.Length, b.Length);
        return a.AsSpan(0, common).CommonPrefixLength(b.AsSpan(0, common));
    }

    private static bool IsText(byte[] bytes) => !bytes.AsSpan(0, Math.Min(bytes.Length, 1 << 16)).Contains((byte)0);

    private static string LineAt(byte[] bytes, long offset)
    {
        if (offset >= bytes.Length) return "(end of file)";
        var start = bytes.AsSpan(0, (int)offset).LastIndexOf((byte)'\n') + 1;
        var end = bytes.AsSpan(start).IndexOf((byte)'\n');
        var line = Encoding.UTF8.GetString(bytes, start, end < 0 ? bytes.Length - start : end);
        return line.Length > 200 ? line[..200] + "…" : line;
    }

    /// <summary>The ustar member whose header or data holds <paramref name="offset"/>: 512-byte headers, size in octal at 124.</summary>
    public static string? TarMemberAt(byte[] tar, long offset)
    {
        for (long header = 0; header + 512 <= tar.Length && tar[header] != 0;)
        {
            var name = Field(tar, header, 0, 100);
            var prefix = Field(tar, header, 345, 155);
            var sizeText = Field(tar, header, 124, 12).Trim();
            if (sizeText.Any(c => c is < '0' or > '7')) return null;  // not ustar (a GNU base-256 size): say nothing rather than guess
            var size = sizeText.Length == 0 ? 0 : Convert.ToInt64(sizeText, 8);
            var next = header + 512 + (size + 511) / 512 * 512;
            if (offset < next) return prefix.Length > 0 ? prefix + "/" + name : name;
            header = next;
        }
        return null;
    }

    private static string Field(byte[] tar, long header, int at, int length)
    {
        var span = tar.AsSpan((int)header + at, length);
        var end = span.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? span : span[..end]);
    }

    /// <summary>diffoscope's text report when diffoscope is installed (it exits 1 when the files differ); null otherwise.</summary>
    private string? RunDiffoscope(string name, string cached, string rebuilt, string reportDir)
    {
        if (!Prerequisites.OnPath("diffoscope")) return null;
        var report = Path.Combine(reportDir, "diffoscope", name + ".txt");
        Directory.CreateDirectory(Path.GetDirectoryName(report)!);
        var result = new Command("diffoscope", "--text", report, "--no-progress", cached, rebuilt)
        {
            Purpose = "diffoscope " + name,
            AcceptedExitCodes = Enumerable.Range(0, 256).ToArray(),
        }.Run(log);
        if (result.ExitCode is 0 or 1) return report;
        log.Warning($"diffoscope could not compare {name} (exit {result.ExitCode}); Kiln's own comparison is in the report");
        return null;
    }
}
