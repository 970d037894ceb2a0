namespace Kiln.Kernel.Build.Containers;

/// <summary>
/// A container engine as the domain needs it: look up and import images, run one command to completion.
/// The build host implements it with its Cake tool wrappers; tests use a fake.
/// </summary>
public interface IContainerEngine
{
    /// <summary>"docker": what the runtime is called in logs, metadata.json and the cache identity.</summary>
    string Name { get; }

    /// <summary>The daemon's version. Throws a <see cref="Diagnostics.KilnException"/> (exit 2) saying how to start it when it does not answer.</summary>
    string ServerVersion();

    /// <summary>The image ID (<c>sha256:…</c>) of <paramref name="reference"/>, or null when there is no such image.</summary>
    string? ImageId(string reference);

    /// <summary>Makes an image tagged <paramref name="reference"/> from a root file system tarball.</summary>
    void Import(string tarball, string reference, string message);

    /// <summary>
    /// Runs the container to completion, streaming its output lines to the run's callbacks; returns the exit code.
    /// Cancelling stops the container too, not only the client.
    /// </summary>
    int Run(ContainerRun run, CancellationToken cancellation = default);
}

/// <summary>
/// One command in a throwaway container. Each mount appears at the same absolute path inside, so paths in
/// make's output, in ccache's keys and in the binaries are those of a host build.
/// </summary>
public sealed record ContainerRun(
    string Image,
    string Program,
    IReadOnlyList<string> Arguments,
    IReadOnlyList<string> Mounts,
    IReadOnlyDictionary<string, string> Environment,
    /// <summary>"uid:gid", so files written to the mounts belong to the invoking user.</summary>
    string User)
{
    /// <summary>The container's name, so a cancelled run can be stopped by name.</summary>
    public string Name { get; init; } = "kiln-build-" + Guid.NewGuid().ToString("N")[..12];
    public string? WorkingDirectory { get; init; }
    public Action<string>? OnOutput { get; init; }
    public Action<string>? OnError { get; init; }
}
