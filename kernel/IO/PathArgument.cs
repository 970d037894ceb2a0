using System.Runtime.InteropServices;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.IO;

/// <summary>
/// Checks a path the user named (--out, --cache-dir, --test, ...) before any work uses it, so a file where a directory
/// belongs, a read-only mount or a kernel pseudo-filesystem is exit 2 naming the option, not an I/O error mid-run.
/// Nothing is created: a directory that does not exist yet must be creatable in its nearest existing ancestor.
/// </summary>
public static class PathArgument
{
    /// <summary>/proc, /sys and /dev hold the kernel's view of itself, never a place for artifacts or caches.</summary>
    private static readonly string[] PseudoFileSystems = ["/proc", "/sys", "/dev"];

    /// <summary>A directory Kiln will create files in: absent (and creatable) or an existing writable directory.</summary>
    public static string WritableDirectory(string option, string path)
    {
        var full = Path.GetFullPath(path);
        var argument = $"--{option}={path}";
        NotPseudo(argument, full);
        if (File.Exists(full))
            throw KilnException.BadInput($"{argument}: this is a file, not a directory. Name a directory (it is created when missing).");
        var existing = NearestExisting(argument, full);
        if (NotWritable(existing) is { } reason)
            throw KilnException.BadInput(existing == full
                ? $"{argument}: the directory is not writable ({reason}). Choose a writable directory, or fix its permissions or mount."
                : $"{argument}: cannot create it: {existing} is not writable ({reason}). Choose a writable place.");
        return full;
    }

    /// <summary>A file Kiln appends to (--ci-output): not a directory, and in a directory it may write.</summary>
    public static string WritableFile(string option, string path)
    {
        var full = Path.GetFullPath(path);
        var argument = $"--{option}={path}";
        NotPseudo(argument, full);
        if (Directory.Exists(full))
            throw KilnException.BadInput($"{argument}: this is a directory; name a file.");
        var existing = File.Exists(full) ? full : NearestExisting(argument, Path.GetDirectoryName(full)!);
        if (NotWritable(existing) is { } reason)
            throw KilnException.BadInput($"{argument}: {existing} is not writable ({reason}). Choose a writable place.");
        return full;
    }

    /// <summary>A file Kiln reads (--test, --against): it must exist and be a regular file.</summary>
    public static string ExistingFile(string option, string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw KilnException.BadInput($"--{option}={path}: this is a directory; name a file.");
        if (!File.Exists(full))
            throw KilnException.BadInput($"--{option}={path}: no such file.");
        return full;
    }

    private static void NotPseudo(string argument, string full)
    {
        foreach (var root in PseudoFileSystems)
            if (full == root || full.StartsWith(root + "/", StringComparison.Ordinal))
                throw KilnException.BadInput($"{argument}: {root} is a kernel pseudo-filesystem, not storage. Choose a directory on a disk.");
    }

    /// <summary>The path itself or its nearest ancestor that exists, which must be a directory.</summary>
    private static string NearestExisting(string argument, string full)
    {
        var dir = full;
        while (!Directory.Exists(dir))
        {
            if (File.Exists(dir))
                throw KilnException.BadInput($"{argument}: {dir} is a file, so nothing can be created under it. Choose another path.");
            dir = Path.GetDirectoryName(dir) ?? "/";
        }
        return dir;
    }

    private const int WriteAccess = 2; // W_OK
    private const int ReadOnlyFileSystem = 30; // EROFS

    [DllImport("libc", SetLastError = true)]
    private static extern int access(string path, int mode);

    /// <summary>Why the path is not writable, or null when it is. access(2) answers for root too, and says EROFS for a read-only mount.</summary>
    private static string? NotWritable(string path)
    {
        if (OperatingSystem.IsWindows() || access(path, WriteAccess) == 0) return null;
        return Marshal.GetLastPInvokeError() == ReadOnlyFileSystem ? "a read-only file system" : "permission denied";
    }
}
