namespace Kiln.Kernel.IO;

/// <summary>
/// The one way Kiln writes a file others read: into a temporary file next to it (same file system, so the rename is
/// atomic), renamed over the target when complete. A killed run leaves the old file or none, never a torn one; its
/// temporary file is named <c>.&lt;name&gt;.tmp-&lt;pid&gt;-&lt;random&gt;</c>, which <see cref="TempPrefix"/> finds.
/// </summary>
public static class AtomicFile
{
    /// <summary>What every temporary sibling of <paramref name="path"/> starts with (for removing abandoned ones).</summary>
    public static string TempPrefix(string path) => $".{Path.GetFileName(path)}.tmp-";

    /// <summary>A fresh temporary path next to <paramref name="path"/>, named with this process's id.</summary>
    public static string TempPathFor(string path) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $"{TempPrefix(path)}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");

    /// <summary><paramref name="write"/> fills the temporary path it is given; the result replaces <paramref name="path"/>.</summary>
    public static void Write(string path, Action<string> write)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = TempPathFor(path);
        try
        {
            write(temp);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public static void Write(string path, Action<Stream> write) => Write(path, (string temp) =>
    {
        using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write);
        write(stream);
    });

    public static void WriteAllText(string path, string text) => Write(path, (string temp) => File.WriteAllText(temp, text));

    /// <summary>Copies <paramref name="source"/> to <paramref name="path"/>, optionally setting its mode before it appears.</summary>
    public static void Copy(string source, string path, UnixFileMode? mode = null) => Write(path, (string temp) =>
    {
        File.Copy(source, temp);
        if (mode is { } m && !OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, m);
    });
}
