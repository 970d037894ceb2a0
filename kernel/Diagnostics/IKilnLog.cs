namespace Kiln.Kernel.Diagnostics;

/// <summary>How the domain library talks to the user; the build host maps it onto Cake's log.</summary>
public interface IKilnLog
{
    void Info(string message);
    void Warning(string message);
    /// <summary>Detail shown with --verbosity=verbose or diagnostic.</summary>
    void Verbose(string message);
}

/// <summary>A log that keeps what it was told; used by tests and to capture output.</summary>
public sealed class RecordingLog : IKilnLog
{
    private readonly List<string> _lines = new();
    public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToArray(); } }
    public void Info(string message) { lock (_lines) _lines.Add("info: " + message); }
    public void Warning(string message) { lock (_lines) _lines.Add("warning: " + message); }
    public void Verbose(string message) { lock (_lines) _lines.Add("verbose: " + message); }
}
