using Kiln.Kernel.Diagnostics;

namespace Kiln.Build;

/// <summary>
/// The names Kiln writes to the CI output: letters, digits and underscores only, so they are valid as
/// GitHub step outputs, GitLab dotenv variables and shell variables alike. Part of Kiln's interface.
/// </summary>
public static class CiKeys
{
    public const string Key = "key";
    public const string InputHash = "input_hash";
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

    public static readonly IReadOnlyList<string> All = typeof(CiKeys).GetFields()
        .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToList();
}

/// <summary>
/// Stable key=value lines for CI scripts: the --ci-output file (or KILN_CI_OUTPUT) and GitHub Actions'
/// $GITHUB_OUTPUT when set. Lines are appended as each task learns a value, so the paths of a failed
/// boot's results are there for the upload step even when the run exits 1.
/// </summary>
public sealed class CiOutput
{
    private readonly IReadOnlyList<string> _files;

    public CiOutput(IEnumerable<string> files) => _files = files.Select(Path.GetFullPath).Distinct().ToList();

    public IReadOnlyList<string> Files => _files;

    public void Set(string name, string value)
    {
        // GitHub reads one name=value per line; a newline in a value would forge another key.
        if (value.Contains('\n') || value.Contains('\r'))
            throw new ArgumentException($"CI output {name} must be one line", nameof(value));
        foreach (var file in _files)
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
}
