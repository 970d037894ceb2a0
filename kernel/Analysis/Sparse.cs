using System.Text.RegularExpressions;
using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Parsing;

namespace Kiln.Kernel.Analysis;

/// <summary>
/// sparse through kbuild (<c>make C=2 CHECK=sparse dir/file.o</c>) on the C files a series touches, in the
/// configured build directory, with the same make variables and environment as the build so nothing else
/// is rebuilt. C=2 checks a file even when its object is up to date; in a fresh build directory make first
/// prepares the tree and compiles the object (ccache makes that cheap). sparse's raw output goes to the request's log file.
/// </summary>
public static partial class Sparse
{
    // "/path/init/main.c:195:12: warning: symbol 'envp_init' was not declared. Should it be static?"
    [GeneratedRegex(@"^(?<file>[^:\s]+\.[ch]):(?<line>\d+):(?<col>\d+): (?<sev>warning|error): (?<msg>.*)$")]
    private static partial Regex DiagnosticLine();

    /// <summary>
    /// The findings sparse reports in <paramref name="sourceFiles"/> (tree-relative .c paths), one make per file:
    /// a file whose object make cannot build with this config (kbuild compiles even disabled files on request, so
    /// this means it does not compile) is listed
    /// in <c>Failed</c> with make's last words instead of failing the whole check.
    /// </summary>
    public static (IReadOnlyList<Finding> Findings, IReadOnlyList<string> Checked, IReadOnlyDictionary<string, string> Failed) Run(
        BuildRequest build, IReadOnlyList<string> sourceFiles, IKilnLog log)
    {
        var all = new List<string>();
        var findings = new List<Finding>();
        var checkedFiles = new List<string>();
        var failed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in sourceFiles)
        {
            var lines = new List<string>();
            var make = new Command("make", new[] { "-C", build.SourceDir, "O=" + build.BuildDir, "-j" + build.Jobs }
                .Concat(build.Compilers.MakeVariables(build.Arch, ccache: true))
                .Concat(new[] { "LOCALVERSION=" + build.LocalVersion, "C=2", "CHECK=sparse", Path.ChangeExtension(file, ".o") })
                .ToArray())
            {
                CaptureOutput = false,
                OnError = line => { lock (lines) lines.Add(line); },
                OnOutput = log.Verbose,
                AcceptedExitCodes = Enumerable.Range(0, 256).ToArray(),
                Purpose = "sparse " + file,
            };
            foreach (var (k, v) in KernelBuilder.ReproducibleEnvironment(build)) make.Environment[k] = v;
            var result = make.Run(log);
            all.AddRange(lines);
            if (result.ExitCode != 0)
            {
                failed[file] = $"make exited {result.ExitCode}: {lines.LastOrDefault(l => l.Trim().Length > 0)?.Trim() ?? "no output"}";
                continue;
            }
            checkedFiles.Add(file);
            findings.AddRange(Parse(lines, build.SourceDir, new[] { file }));
        }
        Directory.CreateDirectory(Path.GetDirectoryName(build.LogFile)!);
        File.WriteAllLines(build.LogFile, all);
        return (findings, checkedFiles, failed);
    }

    public static IReadOnlyList<Finding> Parse(IEnumerable<string> lines, string sourceDir, IReadOnlyCollection<string> sourceFiles)
    {
        var wanted = sourceFiles.ToHashSet(StringComparer.Ordinal);
        var findings = new List<Finding>();
        foreach (var line in lines)
        {
            var m = DiagnosticLine().Match(line.Trim());
            if (!m.Success) continue;
            var file = m.Groups["file"].Value;
            if (Path.IsPathRooted(file)) file = Path.GetRelativePath(sourceDir, file);
            // Headers a touched file includes are reported too; only the touched files are the series' concern.
            if (!wanted.Contains(file)) continue;
            findings.Add(new Finding("sparse", m.Groups["sev"].Value == "error" ? Severity.Error : Severity.Warning,
                file, WholeNumber.Parse(m.Groups["line"].Value) ?? 0, "", m.Groups["msg"].Value));
        }
        return findings;
    }
}
