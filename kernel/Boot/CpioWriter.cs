using System.Text;

namespace Kiln.Kernel.Boot;

/// <summary>
/// Writes the SVR4 "newc" cpio format (magic 070701) that the kernel unpacks as an initramfs.
/// Output is deterministic: every entry gets uid/gid 0, the same mtime, and inode numbers in the
/// order entries are added, so the same inputs always give the same bytes. Device nodes are
/// written as headers only, which is how /dev/console exists in the image without root rights.
/// </summary>
public sealed class CpioWriter : IDisposable
{
    private const string Magic = "070701";
    private const int HeaderLength = 110;
    private const string TrailerName = "TRAILER!!!";

    private const uint TypeDirectory = 0x4000;   // S_IFDIR
    private const uint TypeRegular = 0x8000;     // S_IFREG
    private const uint TypeSymlink = 0xA000;     // S_IFLNK
    private const uint TypeCharDevice = 0x2000;  // S_IFCHR

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly uint _mtime;
    private readonly HashSet<string> _paths = new(StringComparer.Ordinal);
    private uint _nextInode = 1;
    private long _position;
    private bool _finished;

    /// <param name="output">Where the archive goes; it need not be seekable.</param>
    /// <param name="mtime">Modification time (Unix seconds) stamped on every entry.</param>
    /// <param name="leaveOpen">Leave <paramref name="output"/> open when this writer is disposed.</param>
    public CpioWriter(Stream output, uint mtime = 0, bool leaveOpen = false)
    {
        _output = output;
        _mtime = mtime;
        _leaveOpen = leaveOpen;
    }

    public void AddDirectory(string path, uint permissions = 0x1ED /* 0755 */) =>
        WriteEntry(path, TypeDirectory | permissions, nlink: 2, ReadOnlySpan<byte>.Empty, 0, 0);

    public void AddFile(string path, ReadOnlySpan<byte> content, uint permissions = 0x1A4 /* 0644 */) =>
        WriteEntry(path, TypeRegular | permissions, nlink: 1, content, 0, 0);

    public void AddFile(string path, string content, uint permissions = 0x1A4 /* 0644 */) =>
        AddFile(path, Encoding.UTF8.GetBytes(content), permissions);

    /// <summary>A symbolic link; in newc the link target is the entry's data.</summary>
    public void AddSymlink(string path, string target) =>
        WriteEntry(path, TypeSymlink | 0x1FF /* 0777 */, nlink: 1, Encoding.UTF8.GetBytes(target), 0, 0);

    public void AddCharDevice(string path, uint major, uint minor, uint permissions = 0x180 /* 0600 */) =>
        WriteEntry(path, TypeCharDevice | permissions, nlink: 1, ReadOnlySpan<byte>.Empty, major, minor);

    /// <summary>Writes the TRAILER!!! entry that ends the archive; no entries may follow.</summary>
    public void Finish()
    {
        if (_finished) return;
        WriteHeader(TrailerName, inode: 0, mode: 0, nlink: 1, fileSize: 0, rdevMajor: 0, rdevMinor: 0, mtime: 0);
        _finished = true;
        _output.Flush();
    }

    public void Dispose()
    {
        Finish();
        if (!_leaveOpen) _output.Dispose();
    }

    private void WriteEntry(string path, uint mode, uint nlink, ReadOnlySpan<byte> data, uint rdevMajor, uint rdevMinor)
    {
        if (_finished) throw new InvalidOperationException("The cpio archive is already finished.");
        var name = Normalize(path);
        if (!_paths.Add(name)) throw new ArgumentException($"Duplicate cpio entry '{name}'.", nameof(path));
        WriteHeader(name, _nextInode++, mode, nlink, (uint)data.Length, rdevMajor, rdevMinor, _mtime);
        _output.Write(data);
        _position += data.Length;
        Pad();
    }

    private void WriteHeader(string name, uint inode, uint mode, uint nlink, uint fileSize, uint rdevMajor, uint rdevMinor, uint mtime)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var header = new StringBuilder(HeaderLength);
        header.Append(Magic);
        foreach (var field in new[] { inode, mode, 0u /* uid */, 0u /* gid */, nlink, mtime, fileSize,
                     0u /* devmajor */, 0u /* devminor */, rdevMajor, rdevMinor, (uint)nameBytes.Length + 1, 0u /* check */ })
        {
            header.Append(field.ToString("X8"));
        }
        _output.Write(Encoding.ASCII.GetBytes(header.ToString()));
        _output.Write(nameBytes);
        _output.WriteByte(0);
        _position += HeaderLength + nameBytes.Length + 1;
        Pad();
    }

    // newc aligns both the header+name and the data to 4 bytes, counted from the archive start.
    private void Pad()
    {
        while (_position % 4 != 0)
        {
            _output.WriteByte(0);
            _position++;
        }
    }

    // The kernel expects relative names ("dev/console"); "/" and "." are the implicit root.
    private static string Normalize(string path)
    {
        var name = path.Replace('\\', '/').Trim('/');
        if (name.StartsWith("./", StringComparison.Ordinal)) name = name[2..];
        if (name.Length == 0 || name == "." || name.Split('/').Contains(".."))
            throw new ArgumentException($"Invalid cpio entry name '{path}'.", nameof(path));
        return name;
    }
}
