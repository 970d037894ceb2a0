using Kiln.Kernel.Diagnostics;

namespace Kiln.Build;

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
