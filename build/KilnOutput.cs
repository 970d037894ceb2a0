using Cake.Core.Diagnostics;
using Kiln.Build.Hosting;
using Kiln.Kernel.Diagnostics;
using Spectre.Console.Rendering;

namespace Kiln.Build;

/// <summary>
/// The names Kiln writes to the CI output: letters, digits and underscores only, so they are valid as
/// GitHub step outputs, GitLab dotenv variables and shell variables alike. Part of Kiln's interface.
/// </summary>
public static class CiKeys
{
    public const string Key = "key";
    public const string InputHash = "input_hash";
    /// <summary>kiln.lock's verdict on the key: Current, NotRecorded, CounterBumped or ChangedWithoutBump.</summary>
    public const string Lock = "lock";
    /// <summary>The CI build matrix as one line of JSON (Matrix).</summary>
    public const string Matrix = "matrix";
    public const string Identity = "identity";
    /// <summary>local, pulled (from the remote cache), miss (will compile) or skipped (--no-cache, local tree).</summary>
    public const string Cache = "cache";
    public const string Release = "release";
    public const string ArtifactsDir = "artifacts_dir";
    public const string KernelImage = "kernel_image";
    public const string Metadata = "metadata";
    /// <summary>pass or fail.</summary>
    public const string BootResult = "boot_result";
    public const string ResultsJson = "results_json";
    public const string JUnit = "junit";
    public const string SerialLog = "serial_log";
    /// <summary>true when this run pushed the kernel to the remote cache.</summary>
    public const string Pushed = "pushed";
    public const string PackageDir = "package_dir";
    public const string ReleaseTarball = "release_tarball";
    public const string Sha256Sums = "sha256sums";
    public const string Aci = "aci";
    public const string OciLayout = "oci_layout";
    public const string AnalysisReport = "analysis_report";
    /// <summary>ConfigBisect: found, goodfails or badpasses; the culprit options (comma-separated) and the report.</summary>
    public const string ConfigBisectStatus = "config_bisect_status";
    public const string ConfigCulprits = "config_culprits";
    public const string ConfigBisectReport = "config_bisect_report";
    /// <summary>MinConfig: the fragment of the best config so far, its enabled options, whether it converged, and the report.</summary>
    public const string MinConfig = "min_config";
    public const string MinConfigEnabled = "min_config_enabled";
    public const string MinConfigConverged = "min_config_converged";
    public const string MinConfigReport = "min_config_report";

    public static readonly IReadOnlyList<string> All = typeof(CiKeys).GetFields()
        .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToList();
}

/// <summary>
/// What a task tells the user and CI, in one place: progress (Cake's log, so --verbosity applies; also the domain
/// library's <see cref="IKilnLog"/>), tables and lines on the terminal, and results for CI. A result goes to the
/// --ci-output file (or KILN_CI_OUTPUT) and GitHub Actions' $GITHUB_OUTPUT when set, appended as each task learns it,
/// so the paths of a failed boot's results are there for the upload step even when the run exits 1.
/// </summary>
public sealed class KilnOutput : IKilnLog
{
    private readonly IKilnLog _progress;
    private readonly KilnConsole _console;
    private readonly IReadOnlyList<string> _ciFiles;

    public KilnOutput(IKilnLog progress, KilnConsole console, IEnumerable<string> ciFiles)
    {
        (_progress, _console) = (progress, console);
        _ciFiles = ciFiles.Select(Path.GetFullPath).Distinct().ToList();
    }

    /// <summary>Progress through Cake's log, on this process's terminal.</summary>
    public static KilnOutput ForCake(ICakeLog log, IEnumerable<string> ciFiles) => new(new CakeLog(log), KilnConsole.Terminal, ciFiles);

    public void Info(string message) => _progress.Info(message);
    public void Warning(string message) => _progress.Warning(message);
    public void Verbose(string message) => _progress.Verbose(message);

    public void Write(IRenderable renderable) => _console.Write(renderable);
    public void Line(string text) => _console.Line(text);

    /// <summary>Where a guest command's stdout and stderr go, byte for byte (Run, Kselftest).</summary>
    public (Stream Output, Stream Error) CommandStreams => (_console.CommandOutput, _console.CommandError);

    /// <summary>A result for CI (see <see cref="CiKeys"/>).</summary>
    public void Set(string name, string value)
    {
        // GitHub reads one name=value per line; a newline in a value would forge another key.
        if (value.Contains('\n') || value.Contains('\r'))
            throw new ArgumentException($"CI output {name} must be one line", nameof(value));
        foreach (var file in _ciFiles)
        {
            try
            {
                File.AppendAllText(file, $"{name}={value}\n");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw KilnException.BadInput($"Cannot write the CI output file {file}: {e.Message}");
            }
        }
    }

    /// <summary>A result for CI that is also printed as a <c>name=value</c> line, the same name, for scripts that grep stdout.</summary>
    public void Print(string name, string value)
    {
        _console.Value(name, value);
        Set(name, value);
    }

    private sealed class CakeLog : IKilnLog
    {
        private readonly ICakeLog _log;
        public CakeLog(ICakeLog log) => _log = log;
        // Cake's log treats its message as a format string: pass the text as an argument so braces survive.
        public void Info(string message) => _log.Information("{0}", message);
        public void Warning(string message) => _log.Warning("{0}", message);
        public void Verbose(string message) => _log.Verbose("{0}", message);
    }
}
