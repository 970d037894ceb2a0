using NUnit.Framework;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Kiln.Tests.Host;

/// <summary>The repository under test: the nearest directory above the test binaries holding versions.yaml.</summary>
public static class Repo
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "versions.yaml")) && Directory.Exists(Path.Combine(dir.FullName, "kernel")))
                return dir.FullName;
        throw new InvalidOperationException("cannot find the Kiln repository above " + TestContext.CurrentContext.TestDirectory);
    }
}

/// <summary>A temporary directory removed on Dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string prefix = "kiln-test-")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    public string Path { get; }

    public string File(string relative, string content)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        System.IO.File.WriteAllText(full, content);
        return full;
    }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    /// <summary>Every file and directory below, relative, sorted (for "nothing was left behind" checks).</summary>
    public IReadOnlyList<string> Listing(string? under = null)
    {
        var root = under is null ? Path : System.IO.Path.Combine(Path, under);
        if (!Directory.Exists(root)) return Array.Empty<string>();
        return Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(p => System.IO.Path.GetRelativePath(root, p)).OrderBy(p => p, StringComparer.Ordinal).ToList();
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

public sealed record HostResult(int ExitCode, string StdOut, string StdErr, TimeSpan Elapsed)
{
    public string All => StdOut + "\n" + StdErr;
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s\n--- stdout\n{StdOut}\n--- stderr\n{StdErr}";
}

/// <summary>Runs the built build host (Build.dll) as a separate process, the way build.sh does.</summary>
public static class BuildHost
{
    private static readonly Regex Ansi = new(@"\x1b\[[0-9;]*[A-Za-z]", RegexOptions.Compiled);

    public static string Dll => typeof(Kiln.Build.BuildContext).Assembly.Location;

    public static HostResult Run(string? root, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = root ?? Repo.Root,
        };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["KILN_ROOT"] = root ?? Repo.Root;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment.Remove("KILN_MIRROR");
        psi.Environment.Remove("KILN_CACHE_DIR");
        if (env is not null)
            foreach (var (k, v) in env)
                if (v.Length == 0) psi.Environment.Remove(k); else psi.Environment[k] = v;
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"build host did not finish in 90 s: {string.Join(' ', args)}");
        }
        process.WaitForExit();
        return new HostResult(process.ExitCode, Ansi.Replace(stdout.Result, ""), Ansi.Replace(stderr.Result, ""), watch.Elapsed);
    }

    public static HostResult Run(params string[] args) => Run(null, null, args);

    public static HostResult RunIn(string root, params string[] args) => Run(root, null, args);
}
