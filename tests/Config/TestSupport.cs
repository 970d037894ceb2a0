using System.Runtime.CompilerServices;

namespace Kiln.Tests.Config;

/// <summary>A directory under the system temp dir, removed when disposed.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kiln-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Write(string relativePath, string text)
    {
        var full = System.IO.Path.Combine(Path, relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
        return full;
    }

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}

internal static class TestPaths
{
    /// <summary>The repository checkout: two levels above this source file, else found by walking up from the binaries.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    private static string FindRoot([CallerFilePath] string sourceFile = "")
    {
        var fromSource = System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(sourceFile) ?? "", "..", ".."));
        if (File.Exists(System.IO.Path.Combine(fromSource, "Kiln.slnx"))) return fromSource;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Kiln.slnx"))) return dir.FullName;
        throw new InvalidOperationException("Kiln.slnx not found above " + AppContext.BaseDirectory);
    }
}
