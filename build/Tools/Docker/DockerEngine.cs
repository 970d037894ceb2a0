using Cake.Core;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Build.Tools.Docker;

/// <summary>The domain's container engine on the docker client's Cake tools.</summary>
public sealed class DockerEngine : IContainerEngine
{
    private readonly DockerVersionTool _version;
    private readonly DockerImageInspector _inspector;
    private readonly DockerImporter _importer;
    private readonly DockerRunner _runner;

    public DockerEngine(ICakeContext context)
    {
        _version = new DockerVersionTool(context);
        _inspector = new DockerImageInspector(context);
        _importer = new DockerImporter(context);
        _runner = new DockerRunner(context);
    }

    public string Name => "docker";

    public string ServerVersion()
    {
        var output = _version.Version(new DockerVersionSettings { Format = "{{.Server.Version}}" });
        if (output.ExitCode == 0 && output.StandardOutput.FirstOrDefault(l => l.Trim().Length > 0) is { } version) return version.Trim();
        // Kiln never starts a daemon behind the user's back: say how.
        throw KilnException.BadInput(
            $"--runtime=docker: the docker daemon does not answer ({FirstLine(output.StandardError) ?? $"docker version exited {output.ExitCode}"}). " +
            "Start dockerd (e.g. `dockerd &` or `systemctl start docker`; add --iptables=false where iptables is unavailable) and rerun, or build with --runtime=host.");
    }

    public string? ImageId(string reference)
    {
        var output = _inspector.Inspect(new DockerImageInspectSettings { Format = "{{.Id}}" }, reference);
        if (output.ExitCode == 0) return output.StandardOutput.First(l => l.Trim().Length > 0).Trim();
        if (output.StandardError.Any(l => l.Contains("No such image", StringComparison.OrdinalIgnoreCase))) return null;
        throw KilnException.Infrastructure($"docker image inspect {reference} failed: {string.Join('\n', output.StandardError)}");
    }

    public void Import(string tarball, string reference, string message)
    {
        var output = _importer.Import(new DockerImportSettings { Message = message }, tarball, reference);
        if (output.ExitCode != 0)
            throw KilnException.Infrastructure($"docker import of {tarball} as {reference} failed: {string.Join('\n', output.StandardError)}");
    }

    public int Run(ContainerRun run, CancellationToken cancellation = default) =>
        _runner.Run(SettingsFor(run), run.Image, run.Program, run.Arguments, run.OnOutput, run.OnError, cancellation);

    internal static DockerRunSettings SettingsFor(ContainerRun run)
    {
        var settings = new DockerRunSettings
        {
            Rm = true,
            Name = run.Name,
            User = run.User,
            // A kernel build needs no network, and this way the daemon needs no iptables (dockerd --iptables=false works).
            Network = "none",
            Workdir = run.WorkingDirectory,
        };
        foreach (var mount in run.Mounts) settings.Volume.Add($"{mount}:{mount}");
        foreach (var (name, value) in run.Environment) settings.Env[name] = value;
        return settings;
    }

    private static string? FirstLine(IEnumerable<string> lines) => lines.FirstOrDefault(l => l.Trim().Length > 0)?.Trim();
}
