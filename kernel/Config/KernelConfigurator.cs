using System.Text.RegularExpressions;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Config;

/// <summary>How the fragments meet the base config.</summary>
public enum MergeSemantics
{
    /// <summary>
    /// merge_config.sh -n, what Kata's build-kernel.sh runs: the merged fragments are <c>KCONFIG_ALLCONFIG</c> of
    /// <c>make allnoconfig</c>, so every option no fragment sets is off wherever Kconfig lets it be off.
    /// Used for the bases allnoconfig and tinyconfig (the kernel's tiny fragments go first).
    /// </summary>
    AllNoConfig,
    /// <summary>
    /// <c>make BASE</c> (or a config file copied in), merge_config.sh -m, <c>make olddefconfig</c>: options no fragment
    /// sets keep the base's value or, when new, take their Kconfig default. Used for defconfig, other make targets and files.
    /// </summary>
    OldDefConfig,
}

/// <summary>What to configure: a tree, an out-of-tree build directory, an arch, a base config and fragments.</summary>
public sealed record ConfigureRequest(string SourceDir, string BuildDir, Arch Arch, FragmentSet Fragments)
{
    /// <summary>A make *config target (tinyconfig, defconfig, …) or the path of a config file copied in as .config.</summary>
    public string BaseConfig { get; init; } = "tinyconfig";
    public AllowList AllowList { get; init; } = AllowList.Empty;
    /// <summary>Where make runs: Kconfig probes the compiler, so the config must come from the one that builds.</summary>
    public BuildRuntime Runtime { get; init; } = BuildRuntime.Host;
    /// <summary>The compiler Kconfig probes (CONFIG_CC_IS_CLANG, cc-option): the one that builds.</summary>
    public Toolchain Toolchain { get; init; } = Toolchain.Gcc;

    public MergeSemantics Semantics => SemanticsFor(BaseConfig);

    /// <summary>allnoconfig and tinyconfig merge as merge_config.sh -n; anything else (defconfig, a file) as -m + olddefconfig.</summary>
    public static MergeSemantics SemanticsFor(string baseConfig) =>
        baseConfig is "allnoconfig" or "tinyconfig" && !File.Exists(baseConfig) ? MergeSemantics.AllNoConfig : MergeSemantics.OldDefConfig;
}

/// <summary>The final .config (also at <see cref="ConfigPath"/>) and what verification found.</summary>
public sealed record ConfigureResult(KernelConfig Config, string ConfigPath, ConfigVerification Verification);

/// <summary>
/// Produces a kernel .config with the kernel's merge_config.sh, the way Kata's build-kernel.sh does for an
/// allnoconfig or tinyconfig base (<see cref="MergeSemantics"/>), then verifies every requested option with
/// merge_config.sh's own rule and explains each dropped one from the Kconfig files.
/// </summary>
public sealed partial class KernelConfigurator
{
    /// <summary>What merge_config.sh merged, kept next to .config: the verdict compares against it.</summary>
    public const string MergedFileName = ".kiln-merged.config";

    private readonly IKilnLog _log;

    public KernelConfigurator(IKilnLog log) => _log = log;

    [GeneratedRegex(@"^[A-Za-z0-9_.-]*config$")]
    private static partial Regex MakeConfigTargetRegex();

    /// <summary>
    /// Merges, configures and verifies. Allowed drops are logged as warnings; callers fail the build with
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
        var isTarget = MakeConfigTargetRegex().IsMatch(request.BaseConfig) && !File.Exists(request.BaseConfig);
        if (!isTarget && !File.Exists(request.BaseConfig))
            throw KilnException.BadInput(
                $"Base config '{request.BaseConfig}' is neither a make *config target (tinyconfig, defconfig, …) nor an existing config file.");
        Kiln.Kernel.Build.KbuildPaths.Check(sourceDir, buildDir);
        if (!request.Runtime.IsContainer) CheckCompiler(request.Arch, request.Toolchain);
        Directory.CreateDirectory(buildDir);
        var configPath = Path.Combine(buildDir, ".config");
        var mergedPath = Path.Combine(buildDir, MergedFileName);

        foreach (var warning in request.Fragments.Fragments.SelectMany(f => f.Warnings)) _log.Warning(warning);
        foreach (var conflict in request.Fragments.Conflicts) _log.Warning("Config fragments disagree: " + conflict);
        var fragments = request.Fragments.Fragments.Select(f => (f.Path, f.DisplayName)).ToList();
        if (fragments.Count > 0)
            _log.Info($"Configure: {fragments.Count} fragments: {string.Join(", ", request.Fragments.Fragments)}");

        if (request.Semantics == MergeSemantics.AllNoConfig)
        {
            var tiny = request.BaseConfig == "tinyconfig" ? TinyFragments(sourceDir, request.Arch) : new List<(string, string)>();
            _log.Info($"Configure: {request.BaseConfig} for {request.Arch} as merge_config.sh -n (Kata's build-kernel.sh): " +
                      (tiny.Count > 0 ? $"the kernel's tiny fragments ({string.Join(", ", tiny.Select(t => t.Item2))}), then the fragments, " : "the fragments ") +
                      "as KCONFIG_ALLCONFIG of allnoconfig; options they do not set are off where Kconfig allows");
            var inputs = Stage(tiny.Concat(fragments), buildDir);
            if (inputs.Count == 0) File.WriteAllText(mergedPath, "");
            else Merge(mergeScript, buildDir, inputs[0], inputs.Skip(1), mergedPath, cancellation);
            Make(sourceDir, buildDir, request.Arch, request.Toolchain, request.Runtime, new[] { "KCONFIG_ALLCONFIG=" + mergedPath, "allnoconfig" }, cancellation);
        }
        else
        {
            if (isTarget)
            {
                _log.Info($"Configure: base {request.BaseConfig} for {request.Arch}, fragments merged with merge_config.sh -m, then olddefconfig");
                Make(sourceDir, buildDir, request.Arch, request.Toolchain, request.Runtime, new[] { request.BaseConfig }, cancellation);
            }
            else
            {
                _log.Info($"Configure: base config file {request.BaseConfig} for {request.Arch}, fragments merged with merge_config.sh -m, then olddefconfig");
                File.Copy(request.BaseConfig, configPath, overwrite: true);
            }
            Merge(mergeScript, buildDir, configPath, Stage(fragments, buildDir), mergedPath, cancellation);
            File.Copy(mergedPath, configPath, overwrite: true);
            Make(sourceDir, buildDir, request.Arch, request.Toolchain, request.Runtime, new[] { "olddefconfig" }, cancellation);
        }

        var config = KernelConfig.Load(configPath);
        var index = KconfigIndex.Load(sourceDir, request.Arch);
        _log.Verbose($"Read {index.FileCount} Kconfig files in {index.LoadTime.TotalMilliseconds:F0} ms.");
        var verification = new ConfigVerifier(index, request.AllowList).Verify(request.Fragments.Requested, config, KernelConfig.Load(mergedPath));
        verification.Report(_log);
        return new ConfigureResult(config, configPath, verification);
    }

    /// <summary>
    /// What <c>make tinyconfig</c> adds to allnoconfig, in its order: kernel/configs/tiny-base.config (as its
    /// KCONFIG_ALLCONFIG), kernel/configs/tiny.config and arch/&lt;SRCARCH&gt;/configs/tiny.config (as its tiny.config target).
    /// </summary>
    public static List<(string Path, string Name)> TinyFragments(string sourceDir, Arch arch) =>
        new[] { "kernel/configs/tiny-base.config", "kernel/configs/tiny.config", $"arch/{arch.SrcArch}/configs/tiny.config" }
            .Where(relative => File.Exists(Path.Combine(sourceDir, relative)))
            .Select(relative => (Path.Combine(sourceDir, relative), relative))
            .ToList();

    /// <summary>
    /// merge_config.sh -m: <paramref name="initial"/> as the base, the others merged onto it in order; the result,
    /// written to build/.config by the script, is moved to <paramref name="mergedPath"/>.
    /// </summary>
    private void Merge(string mergeScript, string buildDir, string initial, IEnumerable<string> others, string mergedPath, CancellationToken cancellation)
    {
        // merge_config.sh writes temporary files into its working directory: keep them out of the (read-only) source tree.
        new Command(mergeScript, new[] { "-m", "-O", buildDir, initial }.Concat(others).ToArray())
        {
            WorkingDirectory = buildDir,
            Purpose = "merge_config.sh",
            CaptureOutput = false,
            OnOutput = line => _log.Verbose(line),
            OnError = line => _log.Verbose(line),
        }.Run(_log, cancellation);
        File.Move(Path.Combine(buildDir, ".config"), mergedPath, overwrite: true);
    }

    /// <summary>
    /// Copies the inputs into the build directory, in order, and returns the copies' paths: merge_config.sh
    /// splits its file list on whitespace, so a repository path with a space would break it.
    /// </summary>
    private static List<string> Stage(IEnumerable<(string Path, string Name)> inputs, string buildDir)
    {
        var dir = Path.Combine(buildDir, ".kiln-fragments");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var staged = new List<string>();
        foreach (var ((path, name), index) in inputs.Select((f, i) => (f, i)))
        {
            var copy = Path.Combine(dir, $"{index:D2}-{Regex.Replace(name, "[^A-Za-z0-9_.-]", "_")}");
            File.Copy(Path.GetFullPath(path), copy);
            staged.Add(copy);
        }
        return staged;
    }

    /// <summary>
    /// make olddefconfig on the .config a config search wrote into <paramref name="buildDir"/>: the kernel's own Kconfig
    /// makes it consistent (dependencies drop options, selects add them, new options take their defaults).
    /// </summary>
    public KernelConfig OldDefConfig(string sourceDir, string buildDir, Arch arch, Toolchain toolchain, BuildRuntime runtime, CancellationToken cancellation = default)
    {
        Make(Path.GetFullPath(sourceDir), Path.GetFullPath(buildDir), arch, toolchain, runtime, ["olddefconfig"], cancellation);
        return KernelConfig.Load(Path.Combine(buildDir, ".config"));
    }

    private void Make(string sourceDir, string buildDir, Arch arch, Toolchain toolchain, BuildRuntime runtime, IReadOnlyList<string> targetArguments,
        CancellationToken cancellation)
    {
        var arguments = new List<string> { "-C", sourceDir, "O=" + buildDir };
        arguments.AddRange(toolchain.MakeVariables(arch));
        arguments.AddRange(targetArguments);
        var make = new Command("make", arguments.ToArray())
        {
            Purpose = $"make {targetArguments[^1]}",
            CaptureOutput = false,
            OnOutput = line => _log.Verbose(line),
            OnError = line => _log.Verbose(line),
        };
        runtime.Run(make, new[] { sourceDir, buildDir }, _log, cancellation);
    }
    /// <summary>Kconfig probes the compiler, so a missing one fails every step; say which package to install.</summary>
    private static void CheckCompiler(Arch arch, Toolchain toolchain)
    {
        var missing = toolchain.Programs(arch).Where(p => !HostSetup.Prerequisites.OnPath(p.Program)).ToList();
        if (missing.Count == 0) return;
        throw KilnException.BadInput(
            $"Configuring for {arch} with {toolchain} needs {string.Join(", ", missing.Select(p => p.Program))}, not on PATH. " +
            $"Install {(missing.Count == 1 ? "it" : "them")} (Debian: apt-get install {string.Join(' ', missing.Select(p => p.Package).Distinct())}), or rerun as root or with --install-deps.");
    }
}
