using System.Text.RegularExpressions;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Config;

/// <summary>What to configure: a tree, an out-of-tree build directory, an arch, a base config and fragments.</summary>
public sealed record ConfigureRequest(string SourceDir, string BuildDir, Arch Arch, FragmentSet Fragments)
{
    /// <summary>A make *config target (tinyconfig, defconfig, …) or the path of a config file copied in as .config.</summary>
    public string BaseConfig { get; init; } = "tinyconfig";
    public AllowList AllowList { get; init; } = AllowList.Empty;
    /// <summary>Where make runs: Kconfig probes the compiler, so the config must come from the one that builds.</summary>
    public BuildRuntime Runtime { get; init; } = BuildRuntime.Host;
}

/// <summary>The final .config (also at <see cref="ConfigPath"/>) and what verification found.</summary>
public sealed record ConfigureResult(KernelConfig Config, string ConfigPath, ConfigVerification Verification);

/// <summary>
/// Produces a kernel .config the way Kata does (base config, the kernel's merge_config.sh, olddefconfig),
/// then verifies every requested option and explains each dropped one from the Kconfig files.
/// </summary>
public sealed partial class KernelConfigurator
{
    private readonly IKilnLog _log;

    public KernelConfigurator(IKilnLog log) => _log = log;

    [GeneratedRegex(@"^[A-Za-z0-9_.-]*config$")]
    private static partial Regex MakeConfigTargetRegex();

    /// <summary>
    /// Runs the three steps and verifies. Allowed drops are logged as warnings; callers fail the build with
    /// <c>result.Verification.ThrowIfFailed()</c> (exit code 1) when options dropped that are not allowed to.
    /// </summary>
    public ConfigureResult Configure(ConfigureRequest request, CancellationToken cancellation = default)
    {
        var sourceDir = Path.GetFullPath(request.SourceDir);
        var buildDir = Path.GetFullPath(request.BuildDir);
        if (!File.Exists(Path.Combine(sourceDir, "Makefile")) || !File.Exists(Path.Combine(sourceDir, "Kconfig")))
            throw KilnException.BadInput($"{sourceDir} is not a kernel source tree (no Makefile and Kconfig).");
        var mergeScript = Path.Combine(sourceDir, "scripts", "kconfig", "merge_config.sh");
        if (!File.Exists(mergeScript))
            throw KilnException.BadInput($"{sourceDir} has no scripts/kconfig/merge_config.sh; Kiln needs it to merge fragments.");
        Kiln.Kernel.Build.KbuildPaths.Check(sourceDir, buildDir);
        if (!request.Runtime.IsContainer) CheckCrossCompiler(request.Arch);
        Directory.CreateDirectory(buildDir);
        var configPath = Path.Combine(buildDir, ".config");

        foreach (var conflict in request.Fragments.Conflicts) _log.Warning("Config fragments disagree: " + conflict);

        if (MakeConfigTargetRegex().IsMatch(request.BaseConfig) && !File.Exists(request.BaseConfig))
        {
            _log.Info($"Configure: base {request.BaseConfig} for {request.Arch}");
            Make(sourceDir, buildDir, request, request.BaseConfig, cancellation);
        }
        else if (File.Exists(request.BaseConfig))
        {
            _log.Info($"Configure: base config file {request.BaseConfig} for {request.Arch}");
            File.Copy(request.BaseConfig, configPath, overwrite: true);
        }
        else
        {
            throw KilnException.BadInput(
                $"Base config '{request.BaseConfig}' is neither a make *config target (tinyconfig, defconfig, …) nor an existing config file.");
        }

        if (request.Fragments.Fragments.Count > 0)
        {
            _log.Info($"Configure: merging {request.Fragments.Fragments.Count} fragments: {string.Join(", ", request.Fragments.Fragments)}");
            // merge_config.sh writes temporary files into its working directory: keep them out of the (read-only) source tree.
            new Command(mergeScript, new[] { "-m", "-O", buildDir, configPath }.Concat(StageFragments(request.Fragments, buildDir)).ToArray())
            {
                WorkingDirectory = buildDir,
                Purpose = "merge_config.sh",
                CaptureOutput = false,
                OnOutput = line => _log.Verbose(line),
                OnError = line => _log.Verbose(line),
            }.Run(_log, cancellation);
        }
        Make(sourceDir, buildDir, request, "olddefconfig", cancellation);

        var config = KernelConfig.Load(configPath);
        var index = KconfigIndex.Load(sourceDir, request.Arch);
        _log.Verbose($"Read {index.FileCount} Kconfig files in {index.LoadTime.TotalMilliseconds:F0} ms.");
        var verification = new ConfigVerifier(index, request.AllowList).Verify(request.Fragments.Requested, config);
        verification.Report(_log);
        return new ConfigureResult(config, configPath, verification);
    }

    /// <summary>
    /// Copies the fragments into the build directory, in order, and returns the copies' paths: merge_config.sh
    /// splits its file list on whitespace, so a repository path with a space would break it.
    /// </summary>
    private static IEnumerable<string> StageFragments(FragmentSet fragments, string buildDir)
    {
        var dir = Path.Combine(buildDir, ".kiln-fragments");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var staged = new List<string>();
        foreach (var (fragment, index) in fragments.Fragments.Select((f, i) => (f, i)))
        {
            var name = $"{index:D2}-{Regex.Replace(fragment.DisplayName, "[^A-Za-z0-9_.-]", "_")}";
            var copy = Path.Combine(dir, name);
            File.Copy(Path.GetFullPath(fragment.Path), copy);
            staged.Add(copy);
        }
        return staged;
    }

    private void Make(string sourceDir, string buildDir, ConfigureRequest request, string target, CancellationToken cancellation)
    {
        var arguments = new List<string> { "-C", sourceDir, "O=" + buildDir };
        arguments.AddRange(request.Arch.MakeVariables());
        arguments.Add(target);
        var make = new Command("make", arguments.ToArray())
        {
            Purpose = $"make {target}",
            CaptureOutput = false,
            OnOutput = line => _log.Verbose(line),
            OnError = line => _log.Verbose(line),
        };
        request.Runtime.Run(make, new[] { sourceDir, buildDir }, _log, cancellation);
    }

    /// <summary>Kconfig probes the compiler, so a missing cross-compiler fails every step; say which package to install.</summary>
    private static void CheckCrossCompiler(Arch arch)
    {
        if (arch.CrossCompile is not { } prefix) return;
        var compiler = prefix + "gcc";
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        if (path.Split(Path.PathSeparator).Any(d => d.Length > 0 && File.Exists(Path.Combine(d, compiler)))) return;
        throw KilnException.BadInput(
            $"Configuring for {arch} needs the cross-compiler {compiler}, which is not on PATH. " +
            $"Install it (Debian: apt-get install gcc-{prefix.TrimEnd('-')}).");
    }
}
