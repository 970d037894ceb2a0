using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Reproduction;

/// <summary>One section of an ELF file as readelf lists it; <paramref name="Sha256"/> is of its bytes in the file (empty for NOBITS).</summary>
public sealed record ElfSection(int Index, string Name, string Type, ulong Address, long Offset, long Size, string Sha256);

/// <summary>A symbol of an ELF file's symbol table: its value and the index of the section it is in.</summary>
public sealed record ElfSymbol(string Name, ulong Value, int Section);

/// <summary>
/// Sections and symbols of an ELF file, read with binutils' readelf (any class, endianness and machine readelf knows),
/// so two builds can be compared section by section and a difference named by the symbol it falls in.
/// </summary>
public static partial class ElfSections
{
    private static readonly byte[] Magic = { 0x7f, (byte)'E', (byte)'L', (byte)'F' };

    public static bool IsElf(string path)
    {
        using var stream = File.OpenRead(path);
        var head = new byte[4];
        return stream.Read(head, 0, 4) == 4 && head.AsSpan().SequenceEqual(Magic);
    }

    public static IReadOnlyList<ElfSection> Read(string path, IKilnLog log)
    {
        var listing = new Command("readelf", "-S", "-W", path) { Purpose = "List the sections of " + path }.Run(log).StandardOutput;
        var sections = new List<ElfSection>();
        using var file = File.OpenRead(path);
        foreach (var line in listing.Split('\n'))
        {
            var m = SectionLine().Match(line);
            if (!m.Success) continue;
            var type = m.Groups["type"].Value;
            var offset = long.Parse(m.Groups["off"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var size = long.Parse(m.Groups["size"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var sha = type == "NOBITS" ? "" : Convert.ToHexStringLower(SHA256.HashData(Slice(file, offset, size)));
            sections.Add(new ElfSection(int.Parse(m.Groups["nr"].Value, CultureInfo.InvariantCulture), m.Groups["name"].Value, type,
                ulong.Parse(m.Groups["addr"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture), offset, size, sha));
        }
        return sections;
    }

    public static IReadOnlyList<ElfSymbol> Symbols(string path, IKilnLog log)
    {
        var listing = new Command("readelf", "-s", "-W", path) { Purpose = "List the symbols of " + path }.Run(log).StandardOutput;
        var symbols = new List<ElfSymbol>();
        foreach (var line in listing.Split('\n'))
        {
            var m = SymbolLine().Match(line);
            if (!m.Success || !int.TryParse(m.Groups["ndx"].Value, out var section)) continue;
            symbols.Add(new ElfSymbol(m.Groups["name"].Value, ulong.Parse(m.Groups["value"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture), section));
        }
        return symbols;
    }

    /// <summary>
    /// The symbol an address in <paramref name="section"/> falls in or after: the named symbol of that section with the
    /// highest value not above it (in a relocatable object values are offsets into the section, whose address is 0).
    /// </summary>
    public static ElfSymbol? Near(IReadOnlyList<ElfSymbol> symbols, ElfSection section, ulong address) =>
        symbols.Where(s => s.Section == section.Index && s.Name.Length > 0 && s.Value <= address)
            .OrderByDescending(s => s.Value).ThenBy(s => s.Name, StringComparer.Ordinal).FirstOrDefault();

    public static byte[] Slice(FileStream file, long offset, long size)
    {
        var bytes = new byte[Math.Max(0, Math.Min(size, file.Length - offset))];
        file.Seek(offset, SeekOrigin.Begin);
        file.ReadExactly(bytes);
        return bytes;
    }

    //   [ 1] .text             PROGBITS        ffffffff81000000 200000 a01234 00  AX  0   0 4096
    [GeneratedRegex(@"^\s*\[\s*(?<nr>\d+)\]\s+(?<name>\S+)\s+(?<type>[A-Z_0-9]+|LOOS\+\S+|LOPROC\+\S+|<unknown>:\s*\S+)\s+(?<addr>[0-9a-f]+)\s+(?<off>[0-9a-f]+)\s+(?<size>[0-9a-f]+)\s")]
    private static partial Regex SectionLine();

    //     12: ffffffff81000000    42 FUNC    GLOBAL DEFAULT    1 startup_64
    [GeneratedRegex(@"^\s*\d+:\s+(?<value>[0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(?<ndx>\S+)\s*(?<name>\S*)")]
    private static partial Regex SymbolLine();
}
