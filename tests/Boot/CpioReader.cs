using System.Globalization;
using System.Text;

namespace Kiln.Tests.Boot;

/// <summary>A strict newc reader for the tests: checks magic, alignment and the trailer.</summary>
internal sealed record CpioEntry(string Name, uint Inode, uint Mode, uint Uid, uint Gid, uint Nlink, uint Mtime, uint RdevMajor, uint RdevMinor, byte[] Data, long HeaderOffset)
{
    public uint Type => Mode & 0xF000;
    public uint Permissions => Mode & 0xFFF;
    public string Text => Encoding.UTF8.GetString(Data);
}

internal static class CpioReader
{
    public static List<CpioEntry> Read(byte[] archive)
    {
        var entries = new List<CpioEntry>();
        var pos = 0;
        while (true)
        {
            if (pos % 4 != 0) throw new FormatException($"header at {pos} is not 4-byte aligned");
            var magic = Encoding.ASCII.GetString(archive, pos, 6);
            if (magic != "070701") throw new FormatException($"bad magic '{magic}' at {pos}");
            uint Field(int i) => uint.Parse(Encoding.ASCII.GetString(archive, pos + 6 + i * 8, 8), NumberStyles.HexNumber);
            var nameSize = (int)Field(11);
            var fileSize = (int)Field(6);
            if (archive[pos + 110 + nameSize - 1] != 0) throw new FormatException("name is not NUL-terminated");
            var name = Encoding.UTF8.GetString(archive, pos + 110, nameSize - 1);
            var dataStart = Align(pos + 110 + nameSize);
            var entry = new CpioEntry(name, Field(0), Field(1), Field(2), Field(3), Field(4), Field(5), Field(9), Field(10),
                archive[dataStart..(dataStart + fileSize)], pos);
            pos = Align(dataStart + fileSize);
            if (name == "TRAILER!!!")
            {
                if (pos != archive.Length) throw new FormatException($"{archive.Length - pos} bytes after the trailer");
                return entries;
            }
            entries.Add(entry);
        }
    }

    private static int Align(int n) => (n + 3) & ~3;
}
