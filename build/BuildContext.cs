using Cake.Core;
using Cake.Frosting;
using Kiln.Build.Tools.Docker;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;

namespace Kiln.Build;

/// <summary>
/// What tasks share: the options (parsed once), the pipeline they call, the output channel, and each stage's result
/// for the next task to take.
/// </summary>
public sealed class BuildContext : FrostingContext
{
    public BuildContext(ICakeContext context) : base(context)
    {
        var arguments = context.Arguments.GetArguments()
            .SelectMany(a => a.Value.Select(v => (a.Key, Value: v)))
            .ToLookup(a => a.Key, a => a.Value, StringComparer.OrdinalIgnoreCase);
        var environment = System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        var options = KilnOptions.Parse(arguments, environment, FindRepoRoot(), Kiln.Kernel.HostSetup.Prerequisites.IsRoot);
        Output = KilnOutput.ForCake(context.Log, options.CiOutputFiles);
        Pipeline = new KernelPipeline(options, Output, () => new DockerEngine(this));
    }

    /// <summary>For the task adapters' unit tests: a context around a fake pipeline.</summary>
    internal BuildContext(ICakeContext context, IKernelPipeline pipeline, KilnOutput output) : base(context)
    {
        Pipeline = pipeline;
        Output = output;
    }

    /// <summary>Everything a task tells the user or CI: progress, tables, results (see <see cref="KilnOutput"/>).</summary>
    public KilnOutput Output { get; }
    public IKernelPipeline Pipeline { get; }
    public KilnOptions Options => Pipeline.Options;
    public KernelTarget Target => Pipeline.Target;

    // Each stage's result, set by its task for the next.
    public Acquired? Acquired { get; set; }
    public Patched? Patched { get; set; }
    public Configured? Configured { get; set; }
    public Built? Built { get; set; }
    public Booted? Booted { get; set; }

    public T Require<T>(T? value, string producer) where T : class =>
        value ?? throw new InvalidOperationException($"{producer} did not run before this task");

    /// <summary>Patch and Configure skip when the cache already holds the kernel; they say why.</summary>
    public bool SkipOnCacheHit(string task)
    {
        if (Acquired?.Cached is not { } hit) return false;
        Output.Info($"{task}: skipped, cache hit {hit.Directory}");
        return true;
    }

    /// <summary>KILN_ROOT (set by build.sh), else the nearest directory upwards holding versions.yaml.</summary>
    private static string FindRepoRoot()
    {
        var fromEnv = System.Environment.GetEnvironmentVariable("KILN_ROOT");
        if (!string.IsNullOrEmpty(fromEnv)) return Path.GetFullPath(fromEnv);
        for (var dir = new DirectoryInfo(System.Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "versions.yaml"))) return dir.FullName;
        throw KilnException.BadInput("Cannot find versions.yaml: run from the Kiln repository (or set KILN_ROOT).");
    }
}
