using System.Diagnostics;
using System.Text;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Processes;

/// <summary>The outcome of a finished command.</summary>
public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError, TimeSpan Duration);

/// <summary>
/// The one way Kiln runs external programs: logs the command line, streams output to callbacks,
/// and (unless told otherwise) throws with the exit code and the tail of stderr on failure. Children start through
/// <see cref="ChildProcesses"/>, so none outlives Kiln.
/// </summary>
public sealed class Command
{
    private const int TailLines = 20;

    public Command(string fileName, params string[] arguments)
    {
        FileName = fileName;
        Arguments = arguments.ToList();
    }

    public string FileName { get; }
    public List<string> Arguments { get; }
    public string? WorkingDirectory { get; init; }
    public Dictionary<string, string?> Environment { get; } = new();
    /// <summary>Called for each line of stdout as it arrives (progress parsing, log files).</summary>
    public Action<string>? OnOutput { get; init; }
    /// <summary>Called for each line of stderr as it arrives.</summary>
    public Action<string>? OnError { get; init; }
    /// <summary>Keep stdout in memory for the result (off for chatty commands such as make).</summary>
    public bool CaptureOutput { get; init; } = true;
    /// <summary>Exit codes that are not failures.</summary>
    public int[] AcceptedExitCodes { get; init; } = { 0 };
    /// <summary>What the error message calls this step ("apply patch 0001-x.patch").</summary>
    public string? Purpose { get; init; }
    /// <summary>Written to the child's stdin, then stdin is closed.</summary>
    public string? StandardInput { get; init; }
    /// <summary>The child reads and writes Kiln's own terminal (an interactive guest console): nothing is redirected or captured.</summary>
    public bool InheritConsole { get; init; }

    public string CommandLine => string.Join(' ', new[] { FileName }.Concat(Arguments).Select(Quote));

    public static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_./=:,+@%".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''") + "'";

    public CommandResult Run(IKilnLog log, CancellationToken cancellation = default) =>
        RunAsync(log, cancellation).GetAwaiter().GetResult();

    public async Task<CommandResult> RunAsync(IKilnLog log, CancellationToken cancellation = default)
    {
        var stdout = new StringBuilder();
        var stderrTail = new Queue<string>();
        var stderrAll = new StringBuilder();
        var watch = Stopwatch.StartNew();
        using var process = Start(log);

        if (StandardInput is not null)
        {
            await process.StandardInput.WriteAsync(StandardInput);
            process.StandardInput.Close();
        }

        var readOut = InheritConsole ? Task.CompletedTask : Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (CaptureOutput) stdout.AppendLine(line);
                OnOutput?.Invoke(line);
            }
        });
        var readErr = InheritConsole ? Task.CompletedTask : Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                lock (stderrTail)
                {
                    stderrAll.AppendLine(line);
                    stderrTail.Enqueue(line);
                    if (stderrTail.Count > TailLines) stderrTail.Dequeue();
                }
                OnError?.Invoke(line);
            }
        });

        try
        {
            await process.WaitForExitAsync(cancellation);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw;
        }
        await Task.WhenAll(readOut, readErr);
        watch.Stop();
        if (ChildProcesses.Interrupting) ChildProcesses.Park();

        string tail;
        lock (stderrTail) tail = string.Join(System.Environment.NewLine, stderrTail);
        return Check(new CommandResult(process.ExitCode, stdout.ToString(), stderrAll.ToString(), watch.Elapsed), tail);
    }

    /// <summary>
    /// Starts the command with its stdout as a byte stream the caller reads (a decompressor feeding a reader);
    /// <see cref="StreamingCommand.Finish"/> waits for it and applies <see cref="AcceptedExitCodes"/>.
    /// </summary>
    public StreamingCommand StartStreaming(IKilnLog log) => new(this, Start(log));

    internal CommandResult Check(CommandResult result, string stderrTail) =>
        AcceptedExitCodes.Contains(result.ExitCode) ? result : throw new CommandFailedException(this, result, stderrTail);

    private Process Start(IKilnLog log)
    {
        log.Verbose("$ " + CommandLine + (WorkingDirectory is null ? "" : $"   (in {WorkingDirectory})"));
        var psi = new ProcessStartInfo(FileName)
        {
            RedirectStandardOutput = !InheritConsole,
            RedirectStandardError = !InheritConsole,
            RedirectStandardInput = StandardInput is not null && !InheritConsole,
            UseShellExecute = false,
            WorkingDirectory = WorkingDirectory ?? "",
        };
        foreach (var a in Arguments) psi.ArgumentList.Add(a);
        foreach (var (k, v) in Environment)
        {
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        }
        try
        {
            return ChildProcesses.Start(psi);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new KilnException(ExitCodes.BadInput,
                $"Cannot run '{FileName}': {e.Message}. Install it (./build.sh --target=Setup --install-deps installs Kiln's prerequisites) or put it on PATH.", e);
        }
    }
}

/// <summary>A running command whose stdout the caller reads as bytes; stderr is collected for the result.</summary>
public sealed class StreamingCommand : IDisposable
{
    private readonly Command _command;
    private readonly Process _process;
    private readonly Task<string> _stderr;
    private readonly Stopwatch _watch = Stopwatch.StartNew();

    internal StreamingCommand(Command command, Process process)
    {
        _command = command;
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public Stream Output => _process.StandardOutput.BaseStream;

    /// <summary>Waits for the command (killing it first when <paramref name="kill"/>, e.g. the reader gave up); throws on a refused exit code.</summary>
    public CommandResult Finish(bool kill = false)
    {
        if (kill && !_process.HasExited)
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.WaitForExit();
        if (ChildProcesses.Interrupting) ChildProcesses.Park();
        var stderr = _stderr.GetAwaiter().GetResult();
        var result = new CommandResult(_process.ExitCode, "", stderr, _watch.Elapsed);
        return kill ? result : _command.Check(result, stderr.Trim());
    }

    public void Dispose() => _process.Dispose();
}

/// <summary>A command exited with a code it was not allowed to.</summary>
public sealed class CommandFailedException : KilnException
{
    public CommandFailedException(Command command, CommandResult result, string stderrTail)
        : base(ExitCodes.KernelFailed,
            $"{command.Purpose ?? "Command"} failed with exit code {result.ExitCode}: {command.CommandLine}" +
            (stderrTail.Length > 0 ? System.Environment.NewLine + stderrTail : ""))
    {
        Result = result;
        StandardErrorTail = stderrTail;
    }

    public CommandResult Result { get; }
    public string StandardErrorTail { get; }
}
