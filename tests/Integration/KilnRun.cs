using System.Diagnostics;
using System.Text;

namespace Kiln.Tests.Integration;

/// <summary>The outcome of running the real build host as a user would.</summary>
public sealed record KilnRunResult(int ExitCode, string Output, TimeSpan Duration)
{
    public override string ToString() => $"exit {ExitCode} after {Duration.TotalSeconds:F0} s\n{Output}";
}

/// <summary>
/// Runs the built host (what ./build.sh runs) as a child process with its own cache and output
/// directories, so the integration tests exercise exactly what users run.
/// </summary>
public static class KilnRun
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Shared by the integration tests so one kernel build serves them all (KILN_TEST_CACHE overrides).</summary>
    public static string SharedCacheDir { get; } =
        Environment.GetEnvironmentVariable("KILN_TEST_CACHE") is { Length: > 0 } dir ? dir : Path.Combine(Path.GetTempPath(), "kiln-test-cache");

    /// <summary>
    /// The cache key, and so uname -r, of the shared 6.1 kernel: 6.1.192-&lt;kata_config_version&gt;, read from the
    /// repository so a counter bump does not break every test that names the release.
    /// </summary>
    public static string Key61 { get; } = "6.1.192-" + Kiln.Kernel.Versions.ConfigVersion.Load(Path.Combine(RepoRoot, "kata_config_version"));

    /// <summary>The built host's dll, which ./build.sh runs.</summary>
    public static string HostDll => typeof(Kiln.Build.BuildContext).Assembly.Location;

    /// <param name="onLine">Sees each line of output as it arrives (a test that acts while Kiln runs).</param>
    public static KilnRunResult Run(IEnumerable<string> args, string? repoRoot = null, TimeSpan? timeout = null, string? workingDirectory = null,
        Action<string>? onLine = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory ?? "",
        };
        psi.ArgumentList.Add(HostDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["KILN_ROOT"] = repoRoot ?? RepoRoot;
        psi.Environment["NO_COLOR"] = "1";
        var output = new StringBuilder();
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            onLine?.Invoke(e.Data);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(40)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kiln {string.Join(' ', args)} did not finish:\n{output}");
        }
        process.WaitForExit();
        TestContext.Progress.WriteLine($"kiln {string.Join(' ', args)}: exit {process.ExitCode} in {watch.Elapsed.TotalSeconds:F0} s");
        return new KilnRunResult(process.ExitCode, output.ToString(), watch.Elapsed);
    }

    /// <summary>A throwaway copy of the repository's inputs (versions, counter, configs, patches) to modify in a test.</summary>
    public static string CopyInputs()
    {
        var root = Path.Combine(Path.GetTempPath(), "kiln-root-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        foreach (var file in new[] { "versions.yaml", "kata_config_version" })
            File.Copy(Path.Combine(RepoRoot, file), Path.Combine(root, file));
        foreach (var dir in new[] { "configs", "patches" })
            CopyDirectory(Path.Combine(RepoRoot, dir), Path.Combine(root, dir));
        return root;
    }

    /// <summary>
    /// A cache with no kernel and no build directory, so BuildKernel must run make. It shares only the source tree
    /// (by a link; Setup on the shared cache extracts it once, under that cache's lock) and ccache, and sits next to the
    /// shared cache so Patch can hard-link the tree. ccache may serve objects, but make still runs every compile step.
    /// </summary>
    public static string NewEmptyCache()
    {
        var setup = Run(new[] { "--target=Setup", "--kernel=6.1", "--cache-dir=" + SharedCacheDir });
        Assert.That(setup.ExitCode, Is.EqualTo(0), setup.ToString());
        var dir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(SharedCacheDir))!, "kiln-test-fresh-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        Directory.CreateSymbolicLink(Path.Combine(dir, "sources"), Path.Combine(SharedCacheDir, "sources"));
        Directory.CreateSymbolicLink(Path.Combine(dir, "ccache"), Path.Combine(SharedCacheDir, "ccache"));
        return dir;
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "versions.yaml"))) return dir.FullName;
        throw new InvalidOperationException("Cannot find the repository root (versions.yaml) above " + AppContext.BaseDirectory);
    }
}
