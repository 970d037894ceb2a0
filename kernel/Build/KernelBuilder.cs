using System.Diagnostics;
using System.Globalization;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Build.Distribution;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Build;

/// <summary>What to build: a configured build directory (O=) for a source tree.</summary>
public sealed record BuildRequest(
    string SourceDir,
    string BuildDir,
    Arch Arch,
    /// <summary>Appended to the release: "-1" makes uname -r read 6.1.192-1.</summary>
    string LocalVersion,
    int Jobs,
    /// <summary>ccache's directory; its parent is the base dir so hits survive different tree paths. Null compiles every file with the bare compiler (Reproduce).</summary>
    string? CcacheDir,
    string LogFile,
    /// <summary>Where compile jobs run (distcc behind ccache); null builds locally.</summary>
    BuildDistribution? Distribution = null,
    /// <summary>Where make runs (this host or the builder image); null is this host.</summary>
    BuildRuntime? Runtime = null,
    /// <summary>The file whose mtime dates the build: the pristine source's Makefile, which no patch series changes; null is the tree's own.</summary>
    string? TimestampFile = null,
    /// <summary>Runs make under another command line (Reproduce's other user, host name and clock); null runs make itself.</summary>
    Func<Command, Command>? WrapMake = null,
    /// <summary>gcc or clang (LLVM=1); null is gcc.</summary>
    Toolchain? Toolchain = null)
{
    /// <summary>The toolchain the request builds with (gcc unless one is named).</summary>
    public Toolchain Compilers => Toolchain ?? Kernel.Toolchain.Gcc;
}

/// <summary>The files a finished build produced, inside its build directory.</summary>
/// <param name="Extras">kernel-headers.tar, and kernel.tar and kernel-dev.tar with modules, by cache entry name.</param>
public sealed record BuiltKernel(string BuildDir, string Image, string Vmlinux, string SystemMap, string Config, string Release, TimeSpan Duration,
    IReadOnlyDictionary<string, string> Extras);

/// <summary>
/// Runs the kernel's own build system with reproducible settings: fixed timestamp, user, host and
/// build number, so the same inputs give the same image bytes; ccache in front of the compiler.
/// </summary>
public static class KernelBuilder
{
    private const string StepCountFile = ".kiln-steps";

    public static BuiltKernel Build(BuildRequest request, IKilnLog log)
    {
        KbuildPaths.Check(request.SourceDir, request.BuildDir);
        var watch = Stopwatch.StartNew();
        Directory.CreateDirectory(Path.GetDirectoryName(request.LogFile)!);
        var stepFile = Path.Combine(request.BuildDir, StepCountFile);
        int? expected = File.Exists(stepFile) && int.TryParse(File.ReadAllText(stepFile), out var n) ? n : null;
        var progress = new MakeProgress(log.Info, expected);
        var lines = new List<string>();
        // Flushed line by line: a build killed mid-way (SIGKILL, OOM) leaves in build.log everything make printed.
        using var logWriter = new StreamWriter(request.LogFile, append: false) { AutoFlush = true };

        void OnLine(string line)
        {
            lock (lines)
            {
                logWriter.WriteLine(line);
                lines.Add(line);
                progress.OnLine(line);
            }
        }

        var target = request.Arch.ImageName;
        var modules = DevelopmentArtifacts.ModulesEnabled(request.BuildDir);
        var distribution = request.Distribution ?? BuildDistribution.Local(request.Jobs);
        Command Make(string purpose, IEnumerable<string> goals)
        {
            var make = new Command("make", new[] { "-C", request.SourceDir, "O=" + request.BuildDir, "-j" + request.Jobs }
                .Concat(request.Compilers.MakeVariables(request.Arch, ccache: request.CcacheDir is not null))
                .Concat(new[] { "LOCALVERSION=" + request.LocalVersion })
                .Concat(goals)
                .ToArray())
            {
                CaptureOutput = false,
                OnOutput = OnLine,
                OnError = OnLine,
                AcceptedExitCodes = Enumerable.Range(0, 256).ToArray(),
                Purpose = purpose,
            };
            foreach (var (k, v) in ReproducibleEnvironment(request)) make.Environment[k] = v;
            foreach (var (k, v) in distribution.Environment) make.Environment[k] = v;
            return request.WrapMake is { } wrap ? wrap(make) : make;
        }

        var runtime = request.Runtime ?? BuildRuntime.Host;
        var mounts = new[] { request.SourceDir, request.BuildDir, request.CcacheDir }.OfType<string>().ToArray();
        log.Info($"Building {target}{(modules ? ", modules" : "")} and headers with {request.Jobs} jobs {distribution.Describe()} {runtime.Describe()} (full log: {request.LogFile})");
        var result = runtime.Run(Make("make " + target, DevelopmentArtifacts.MakeTargets(modules).Prepend(target)), mounts, log);
        if (result.ExitCode == 0 && modules)
        {
            Sources.SourceCache.DeleteDirectory(Path.Combine(request.BuildDir, DevelopmentArtifacts.ModulesStaging));
            result = runtime.Run(Make("make modules_install", DevelopmentArtifacts.ModulesInstallVariables(request.BuildDir)), mounts, log);
        }
        logWriter.Flush();
        if (result.ExitCode != 0)
        {
            var excerpt = BuildErrorExtractor.Extract(lines);
            var where = BuildErrorExtractor.FirstFailingFile(lines);
            throw KilnException.KernelFailed(
                $"The kernel build failed{(where is null ? "" : " in " + where)} (make exited {result.ExitCode}):\n  " +
                string.Join("\n  ", excerpt) + $"\nFull log: {request.LogFile}");
        }
        File.WriteAllText(stepFile, progress.Steps.ToString(CultureInfo.InvariantCulture));

        var release = File.ReadAllText(Path.Combine(request.BuildDir, "include", "config", "kernel.release")).Trim();
        log.Info($"Built Linux {release} in {watch.Elapsed:mm\\:ss} ({progress.Steps} steps)");
        var extras = DevelopmentArtifacts.Write(request.SourceDir, request.BuildDir, request.Arch.SrcArch, release, modules);
        return new BuiltKernel(request.BuildDir, Path.Combine(request.BuildDir, request.Arch.ImagePath),
            Path.Combine(request.BuildDir, "vmlinux"), Path.Combine(request.BuildDir, "System.map"),
            Path.Combine(request.BuildDir, ".config"), release, watch.Elapsed, extras);
    }

    /// <summary>
    /// The variables that make kbuild's output depend on the inputs only. The timestamp is the source's own (its
    /// Makefile's time; the pristine one's, since a working tree's Makefile gets a new mtime whenever a series changes
    /// it), so the same source always gets the same date. The locale is pinned
    /// whole (null unsets): ccache hashes LANG, LC_CTYPE and LC_MESSAGES besides LC_ALL, so an inherited
    /// LANG=C.UTF-8 would keep a host build's compiles from serving a container build (which has no LANG).
    /// </summary>
    public static IReadOnlyDictionary<string, string?> ReproducibleEnvironment(BuildRequest request)
    {
        var stamp = File.GetLastWriteTimeUtc(request.TimestampFile ?? Path.Combine(request.SourceDir, "Makefile"));
        var environment = new Dictionary<string, string?>
        {
            ["KBUILD_BUILD_TIMESTAMP"] = stamp.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture),
            ["KBUILD_BUILD_USER"] = "kiln",
            ["KBUILD_BUILD_HOST"] = "kiln",
            ["KBUILD_BUILD_VERSION"] = "1",
            ["LC_ALL"] = "C",
            ["LANG"] = "C",
            ["LC_CTYPE"] = null,
            ["LC_MESSAGES"] = null,
            ["TZ"] = "UTC",
        };
        if (request.CcacheDir is not { } ccache) return environment;
        environment["CCACHE_DIR"] = ccache;
        environment["CCACHE_BASEDIR"] = Path.GetDirectoryName(Path.GetFullPath(ccache))!;
        environment["CCACHE_NOHASHDIR"] = "1";
        environment["CCACHE_COMPILERCHECK"] = "content";
        // Depend mode keys results on kbuild's -MMD dependency output instead of running the preprocessor
        // first: measured on kernel/ of 6.1, a cold compile through ccache went from 1.61x raw gcc to 1.08x.
        environment["CCACHE_DEPEND"] = "1";
        return environment;
    }
}
