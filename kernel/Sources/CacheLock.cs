using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Sources;

/// <summary>
/// An exclusive lock on a cache path held for the length of a step, so two runs on one cache wait
/// for each other instead of writing the same entry. The OS releases it if the process dies.
/// </summary>
public sealed class CacheLock : IDisposable
{
    private readonly FileStream _stream;

    private CacheLock(FileStream stream) => _stream = stream;

    public static CacheLock Acquire(string lockPath, IKilnLog log, TimeSpan? timeout = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromHours(2));
        var told = false;
        while (true)
        {
            try
            {
                return new CacheLock(new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                if (!told) log.Info($"Waiting for another Kiln run that holds {lockPath}");
                told = true;
                Thread.Sleep(500);
            }
            catch (IOException e)
            {
                throw new KilnException(ExitCodes.Infrastructure, $"Gave up waiting for the cache lock {lockPath}: another Kiln run holds it. {e.Message}");
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
