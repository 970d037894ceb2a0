using System.Diagnostics;
using System.Text;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Build.Containers;

/// <summary>The builder image a container build runs in: its tag, its content ID and the engine that holds it.</summary>
public sealed record BuilderImage(string Reference, string Id, string EngineVersion);

/// <summary>metadata.json's "runtime": where make and the compiler ran.</summary>
public sealed record RuntimeMetadata(string Engine)
{
    public string? Image { get; init; }
    public string? ImageId { get; init; }
    public string? EngineVersion { get; init; }
}

/// <summary>
/// Where make and the compiler run: on this host, or in the builder image with the source, build and ccache
/// directories mounted at their own paths. Commands are the same either way; only where they execute changes.
/// </summary>
public sealed class BuildRuntime
{
    public const string HostName = "host";
    private const int TailLines = 20;
    /// <summary>docker run's own failures (daemon error, bad mount): the command inside never ran.</summary>
    private const int EngineFailureExitCode = 125;

    private readonly IContainerEngine? _engine;
    private readonly string _user;
    /// <summary>Each toolchain's description, asked once: the identity, the toolchain check and metadata.json all read it (a docker run each otherwise).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(Arch, Toolchain), string> _compilers = new();

    private BuildRuntime(IContainerEngine? engine, BuilderImage? image, string user)
    {
        _engine = engine;
        Image = image;
        _user = user;
    }

    public static BuildRuntime Host { get; } = new(null, null, "");

    public static BuildRuntime InContainer(IContainerEngine engine, BuilderImage image, string user) => new(engine, image, user);

    public BuilderImage? Image { get; }
    public bool IsContainer => _engine is not null;
    public string Name => _engine?.Name ?? HostName;

    /// <summary>
    /// What joins the cache identity: the engine and the image's content ID (a rebuilt image may hold other package
    /// versions). Null on the host, so host builds keep the identities they had before runtimes existed.
    /// </summary>
    public string? IdentityText => Image is null ? null : $"{Name} {Image.Reference} {Image.Id}";

    public RuntimeMetadata Metadata => new(Name) { Image = Image?.Reference, ImageId = Image?.Id, EngineVersion = Image?.EngineVersion };

    /// <summary>
    /// "gcc (Debian 12.2.0-14) 12.2.0": the first version line of the compiler this runtime builds <paramref name="arch"/> with;
    /// for clang also the linker's and the make variables ("Debian clang version 14.0.6; Debian LLD 14.0.6 …; LLVM=1 LLVM_IAS=1").
    /// </summary>
    public string DescribeCompiler(Arch arch, Toolchain toolchain, IKilnLog log) => _compilers.GetOrAdd((arch, toolchain), _ =>
    {
        string FirstLine(string program) =>
            Run(new Command(program, "--version") { Purpose = $"Query the {toolchain} toolchain" }, Array.Empty<string>(), log).StandardOutput.Split('\n')[0].Trim();
        var compiler = FirstLine(toolchain.Compiler(arch));
        return toolchain.Linker is { } linker ? $"{compiler}; {FirstLine(linker)}; {string.Join(' ', toolchain.ExtraMakeVariables)}" : compiler;
    });

    /// <summary>"on this host" or "in docker image kiln-builder:… (sha256:…)", for log lines.</summary>
    public string Describe() => Image is null ? "on this host" : $"in {Name} image {Image.Reference} ({Image.Id[..Math.Min(19, Image.Id.Length)]})";

    /// <summary>
    /// Runs <paramref name="command"/> here or in the builder image, with Command.Run's contract: output streamed to its
    /// callbacks, stdout captured when asked, a <see cref="CommandFailedException"/> for an exit code it does not accept.
    /// <paramref name="paths"/> are the directories the command reads or writes; a container gets them mounted.
    /// </summary>
    public CommandResult Run(Command command, IEnumerable<string> paths, IKilnLog log, CancellationToken cancellation = default)
    {
        if (_engine is null || Image is null) return command.Run(log, cancellation);

        var mounts = MountsFor(paths);
        // dockerd would create a missing one itself, owned by root: make it as the invoking user instead.
        foreach (var mount in mounts) Directory.CreateDirectory(mount);
        log.Verbose($"$ {command.CommandLine}   ({Describe()}, mounted: {string.Join(' ', mounts)})");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var tail = new Queue<string>();
        var run = new ContainerRun(Image.Id, command.FileName, command.Arguments.ToList(), mounts,
            command.Environment.Where(e => e.Value is not null).ToDictionary(e => e.Key, e => e.Value!), _user)
        {
            WorkingDirectory = command.WorkingDirectory,
            OnOutput = line =>
            {
                if (command.CaptureOutput) lock (stdout) stdout.AppendLine(line);
                command.OnOutput?.Invoke(line);
            },
            OnError = line =>
            {
                lock (tail)
                {
                    stderr.AppendLine(line);
                    tail.Enqueue(line);
                    if (tail.Count > TailLines) tail.Dequeue();
                }
                command.OnError?.Invoke(line);
            },
        };
        var watch = Stopwatch.StartNew();
        var exitCode = _engine.Run(run, cancellation);
        var result = new CommandResult(exitCode, stdout.ToString(), stderr.ToString(), watch.Elapsed);
        var tailText = string.Join(System.Environment.NewLine, tail);
        if (exitCode == EngineFailureExitCode)
            throw KilnException.Infrastructure($"{Name} could not run {command.Purpose ?? command.FileName} {Describe()}:{System.Environment.NewLine}{tailText}");
        if (!command.AcceptedExitCodes.Contains(exitCode))
            throw new CommandFailedException(command, result, tailText);
        return result;
    }

    /// <summary>
    /// The directories to mount: each path and, when it is a symbolic link, its target (so a link to a shared
    /// ccache resolves inside too); a path inside another mounted one is reachable through it and is left out.
    /// </summary>
    public static IReadOnlyList<string> MountsFor(IEnumerable<string> paths)
    {
        var candidates = new List<string>();
        foreach (var path in paths.Select(p => Path.TrimEndingDirectorySeparator(Path.GetFullPath(p))))
        {
            candidates.Add(path);
            if (Directory.Exists(path) && new DirectoryInfo(path).ResolveLinkTarget(returnFinalTarget: true) is { } target)
                candidates.Add(Path.TrimEndingDirectorySeparator(target.FullName));
        }
        var mounts = new List<string>();
        foreach (var path in candidates.Distinct(StringComparer.Ordinal).OrderBy(p => p.Length).ThenBy(p => p, StringComparer.Ordinal))
            if (!mounts.Any(m => path.StartsWith(m + "/", StringComparison.Ordinal)))
                mounts.Add(path);
        return mounts;
    }
}
