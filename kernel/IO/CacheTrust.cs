using System.Runtime.InteropServices;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.IO;

/// <summary>
/// Who may have written what Kiln is about to trust, checked as ssh checks keys: a cache directory or kernel entry must
/// be owned by this user (or root) and not writable by group or others, or another local user could swap in a kernel
/// and its matching metadata.json. Directories Kiln creates in the cache are private to the user (0700).
/// Ancestors of --cache-dir are not checked: /tmp is world-writable (with the sticky bit) and a fine place for a cache.
/// </summary>
public static class CacheTrust
{
    public const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>Creates <paramref name="path"/> (and missing parents) private to the user; an existing directory keeps its mode.</summary>
    public static void CreatePrivate(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, Private);
    }

    /// <summary>
    /// Takes group and other write away from a file Kiln stores in the cache: its mode came from make or the umask
    /// (0664 under umask 002), and <see cref="Require"/> would refuse it on the next lookup.
    /// </summary>
    public static void KeepPrivate(string file)
    {
        if (OperatingSystem.IsWindows()) return;
        File.SetUnixFileMode(file, File.GetUnixFileMode(file) & ~WritableByOthers);
    }

    /// <summary>
    /// Refuses (exit 2, saying how to fix it) a directory or file another user owns or that group or others may write.
    /// <paramref name="what"/> says what it is, e.g. "--cache-dir" or "the kernel cache entry".
    /// </summary>
    public static void Require(string path, string what)
    {
        if (Problem(path, CurrentUser) is { } problem)
            throw KilnException.BadInput($"{what} {path} {problem}, so another local user could replace what Kiln trusts in it. " + Fix(path, problem));
    }

    /// <summary>
    /// Why <paramref name="path"/> cannot be trusted by <paramref name="user"/>, or null when it can (or does not exist).
    /// A symbolic link is judged by what it points at, as the cache reads through it.
    /// </summary>
    public static string? Problem(string path, uint user)
    {
        if (OperatingSystem.IsWindows() || Stat(path) is not { } stat) return null;
        if (stat.Owner != user && stat.Owner != 0) return $"is owned by uid {stat.Owner}, not by you (uid {user})";
        var writable = stat.Mode & WritableByOthers;
        return writable == 0 ? null
            : writable == WritableByOthers ? "is writable by group and others"
            : writable == UnixFileMode.GroupWrite ? "is writable by its group" : "is writable by others";
    }

    private static string Fix(string path, string problem) =>
        problem.StartsWith("is owned", StringComparison.Ordinal)
            ? $"If it is yours, take it back (chown -R {CurrentUser} {Quote(path)}); otherwise point --cache-dir (or KILN_CACHE_DIR) at a directory of your own."
            : $"Run: chmod go-w {Quote(path)} (or chmod 700), or point --cache-dir (or KILN_CACHE_DIR) at a directory of your own.";

    private static string Quote(string path) => path.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '$' or '`' or '\\') ? "'" + path.Replace("'", "'\\''") + "'" : path;

    public static uint CurrentUser => OperatingSystem.IsWindows() ? 0 : geteuid();

    private readonly record struct Status(uint Owner, UnixFileMode Mode);

    /// <summary>statx(2), whose struct has one layout on every architecture (stat's differs between x86_64 and arm64).</summary>
    private static Status? Stat(string path)
    {
        const int AtFdCwd = -100;
        const uint StatxMode = 0x2, StatxUid = 0x8;
        var buffer = new byte[256];
        if (statx(AtFdCwd, path, 0, StatxMode | StatxUid, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            const int ENOENT = 2, ENOTDIR = 20;
            if (errno is ENOENT or ENOTDIR) return null;
            throw new IOException($"Cannot read the owner and mode of {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        // struct statx: stx_uid at offset 20, stx_mode (16 bits) at offset 28.
        return new Status(BitConverter.ToUInt32(buffer, 20), (UnixFileMode)(BitConverter.ToUInt16(buffer, 28) & 0xfff));
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc")]
    private static extern uint geteuid();
}
