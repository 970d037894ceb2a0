namespace Kiln.Kernel.Diagnostics;

/// <summary>
/// The host's last word on a failure of the machine or network that no stage wrapped (a permission, a path that is a
/// file, a read-only file system, a refused connection): one line with the exception's own message, which names the
/// path or address, and exit 3. The exception stays inside for --verbosity=diagnostic.
/// </summary>
public static class EnvironmentFailure
{
    public static Exception Translate(Exception e)
    {
        if (e is KilnException || !ExitCodes.IsEnvironmental(e)) return e;
        if (DiskFull.Is(e)) return DiskFull.Explain(e);
        var what = e switch
        {
            UnauthorizedAccessException => "Permission denied",
            IOException => "I/O error",
            System.Net.Http.HttpRequestException or System.Net.Sockets.SocketException or TimeoutException => "Network error",
            InvalidDataException or System.Text.Json.JsonException => "Unreadable data",
            _ => "System error",
        };
        var message = string.Join(' ', e.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        return new KilnException(ExitCodes.Infrastructure,
            $"{what}: {message} Check that path (its owner, permissions and mount) or the network, then run again; " +
            "--verbosity=diagnostic shows where it happened.", e);
    }
}
