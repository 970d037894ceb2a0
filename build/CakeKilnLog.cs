using Cake.Core.Diagnostics;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Build;

/// <summary>The domain library's log, written through Cake's log (so --verbosity applies).</summary>
public sealed class CakeKilnLog : IKilnLog
{
    private readonly ICakeLog _log;

    public CakeKilnLog(ICakeLog log) => _log = log;

    // Cake's log treats its message as a format string: pass the text as an argument so braces survive.
    public void Info(string message) => _log.Information("{0}", message);
    public void Warning(string message) => _log.Warning("{0}", message);
    public void Verbose(string message) => _log.Verbose("{0}", message);
}
