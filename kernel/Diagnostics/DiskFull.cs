namespace Kiln.Kernel.Diagnostics;

/// <summary>
/// Recognises "no space left" (ENOSPC, EDQUOT) among I/O errors, so a full disk is reported as such
/// instead of as a network failure or a crash.
/// </summary>
public static class DiskFull
{
    private const int Enospc = 28;
    private const int Edquot = 122;

    public static bool Is(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is IOException io && ((io.HResult & 0xffff) is Enospc or Edquot || io.Message.Contains("No space left on device", StringComparison.Ordinal)
                                        || io.Message.Contains("Disk quota exceeded", StringComparison.Ordinal)))
                return true;
        }
        return false;
    }

    /// <summary>The user's message for a full disk: which file could not be written and what to do (exit 3).</summary>
    /// <param name="path">The file being written, when the I/O error does not name it (File.Copy's does not).</param>
    public static KilnException Explain(Exception e, string? path = null)
    {
        var io = e;
        while (io is not null && io is not IOException) io = io.InnerException;
        var message = (io ?? e).Message.Trim();
        var detail = path is not null ? " writing " + path
            : message.Contains('\'') || message.Contains('/') ? $" ({message})" : "";
        return new KilnException(ExitCodes.Infrastructure,
            $"No space left on device{detail}. Free space on that file system (df -h), or point --cache-dir " +
            "(sources, builds, ccache) or --out (artifacts) at a larger one, then run again; the partial files of this run were removed.", e);
    }
}
