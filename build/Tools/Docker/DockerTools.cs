using Cake.Core;
using Cake.Core.IO;
using Cake.Core.Tooling;
using Kiln.Kernel.Processes;

namespace Kiln.Build.Tools.Docker;

/// <summary>What a docker command printed and how it exited.</summary>
public sealed record DockerOutput(int ExitCode, IReadOnlyList<string> StandardOutput, IReadOnlyList<string> StandardError);

/// <summary>
/// The docker client as Cake tools (what Cake.Docker gives): typed settings rendered to arguments. The exit code is the
/// caller's to judge, because for docker it carries meaning (no such image, daemon down, the command inside failed).
/// </summary>
public abstract class DockerTool<TSettings> : Tool<TSettings> where TSettings : ToolSettings
{
    protected DockerTool(ICakeContext context) : base(context.FileSystem, context.Environment, context.ProcessRunner, context.Tools)
    {
    }

    protected override string GetToolName() => "docker";

    protected override IEnumerable<string> GetToolExecutableNames() => new[] { "docker" };

    /// <summary>Runs to completion and returns everything it printed.</summary>
    protected DockerOutput Capture(TSettings settings, ProcessArgumentBuilder arguments)
    {
        var process = RunProcess(settings, arguments, new ProcessSettings { RedirectStandardOutput = true, RedirectStandardError = true });
        process.WaitForExit();
        return new DockerOutput(process.GetExitCode(), process.GetStandardOutput().ToList(), process.GetStandardError().ToList());
    }

    /// <summary>Streams each output line to the callbacks as it arrives; <paramref name="onCancel"/> runs if cancelled before the exit.</summary>
    protected int Stream(TSettings settings, ProcessArgumentBuilder arguments, Action<string>? onOutput, Action<string>? onError,
        Action onCancel, CancellationToken cancellation)
    {
        var process = RunProcess(settings, arguments, new ProcessSettings
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectedStandardOutputHandler = line => { if (line is not null) onOutput?.Invoke(line); return line; },
            RedirectedStandardErrorHandler = line => { if (line is not null) onError?.Invoke(line); return line; },
        });
        // Not a WaitForExit(timeout) poll: Cake's wrapper kills the process when that times out.
        using (cancellation.Register(() =>
               {
                   onCancel();
                   process.Kill();
               }))
        {
            process.WaitForExit();
        }
        // An interrupt removed the container: Kiln is exiting with the signal's code, not judging this build.
        if (ChildProcesses.Interrupting) ChildProcesses.Park();
        cancellation.ThrowIfCancellationRequested();
        return process.GetExitCode();
    }
}

public sealed class DockerVersionTool : DockerTool<DockerVersionSettings>
{
    public DockerVersionTool(ICakeContext context) : base(context) { }

    public DockerOutput Version(DockerVersionSettings settings) => Capture(settings, Render(settings));

    internal static ProcessArgumentBuilder Render(DockerVersionSettings settings)
    {
        var builder = new ProcessArgumentBuilder().Append("version");
        if (settings.Format is not null) builder.Append("--format").AppendQuoted(settings.Format);
        return builder;
    }
}

public sealed class DockerImageInspector : DockerTool<DockerImageInspectSettings>
{
    public DockerImageInspector(ICakeContext context) : base(context) { }

    public DockerOutput Inspect(DockerImageInspectSettings settings, string image) => Capture(settings, Render(settings, image));

    internal static ProcessArgumentBuilder Render(DockerImageInspectSettings settings, string image)
    {
        var builder = new ProcessArgumentBuilder().Append("image").Append("inspect");
        if (settings.Format is not null) builder.Append("--format").AppendQuoted(settings.Format);
        return builder.AppendQuoted(image);
    }
}

public sealed class DockerImporter : DockerTool<DockerImportSettings>
{
    public DockerImporter(ICakeContext context) : base(context) { }

    public DockerOutput Import(DockerImportSettings settings, string tarball, string reference) => Capture(settings, Render(settings, tarball, reference));

    internal static ProcessArgumentBuilder Render(DockerImportSettings settings, string tarball, string reference)
    {
        var builder = new ProcessArgumentBuilder().Append("import");
        if (settings.Message is not null) builder.Append("--message").AppendQuoted(settings.Message);
        return builder.AppendQuoted(tarball).AppendQuoted(reference);
    }
}

public sealed class DockerRunner : DockerTool<DockerRunSettings>
{
    private readonly DockerRemover _remover;

    public DockerRunner(ICakeContext context) : base(context) => _remover = new DockerRemover(context);

    /// <summary>Runs <paramref name="program"/> in <paramref name="image"/>; a cancelled run removes its container (it would outlive the client).</summary>
    public int Run(DockerRunSettings settings, string image, string program, IEnumerable<string> arguments,
        Action<string>? onOutput, Action<string>? onError, CancellationToken cancellation)
    {
        void RemoveContainer()
        {
            if (settings.Name is not null) _remover.Remove(new DockerRemoveSettings { Force = true }, settings.Name);
        }
        // Killing the docker client on an interrupt would leave the container compiling: it is removed by name.
        using var onInterrupt = settings.Name is null ? null : ChildProcesses.OnInterrupt($"container {settings.Name}", RemoveContainer);
        return Stream(settings, Render(settings, image, program, arguments), onOutput, onError, RemoveContainer, cancellation);
    }

    internal static ProcessArgumentBuilder Render(DockerRunSettings settings, string image, string program, IEnumerable<string> arguments)
    {
        var builder = new ProcessArgumentBuilder().Append("run");
        if (settings.Rm) builder.Append("--rm");
        if (settings.Name is not null) builder.Append("--name").AppendQuoted(settings.Name);
        if (settings.User is not null) builder.Append("--user").AppendQuoted(settings.User);
        if (settings.Network is not null) builder.Append("--network").AppendQuoted(settings.Network);
        foreach (var volume in settings.Volume) builder.Append("--volume").AppendQuoted(volume);
        foreach (var (name, value) in settings.Env) builder.Append("--env").AppendQuoted($"{name}={value}");
        if (settings.Workdir is not null) builder.Append("--workdir").AppendQuoted(settings.Workdir);
        builder.AppendQuoted(image).AppendQuoted(program);
        foreach (var argument in arguments) builder.AppendQuoted(argument);
        return builder;
    }
}

public sealed class DockerRemover : DockerTool<DockerRemoveSettings>
{
    public DockerRemover(ICakeContext context) : base(context) { }

    public DockerOutput Remove(DockerRemoveSettings settings, string container) => Capture(settings, Render(settings, container));

    internal static ProcessArgumentBuilder Render(DockerRemoveSettings settings, string container)
    {
        var builder = new ProcessArgumentBuilder().Append("rm");
        if (settings.Force) builder.Append("--force");
        return builder.AppendQuoted(container);
    }
}
