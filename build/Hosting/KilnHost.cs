using System.Reflection;
using Cake.Cli;
using Cake.Core;
using Cake.Core.Configuration;
using Cake.Core.Diagnostics;
using Cake.Core.IO;
using Cake.Core.Tooling;
using Cake.Frosting;
using Spectre.Console;

namespace Kiln.Build.Hosting;

/// <summary>
/// Kiln's build host: runs tasks written against Cake.Frosting's API (<c>FrostingTask&lt;T&gt;</c>, its attributes,
/// <c>FrostingContext</c>; see build/Frosting/) on the Cake.Core engine. It is not Cake.Frosting's CakeHost: it
/// declares its arguments (--help, typos rejected), takes exit codes from exceptions, translates known errors, and
/// reports an exception nobody expected as an internal error (its own exit code, with the stack trace).
/// README "Build host" lists what a switch to the real package would need.
/// </summary>
public sealed class KilnHost
{
    private Type _contextType = typeof(FrostingContext);
    private readonly List<Assembly> _assemblies = new();
    private readonly List<HostArgument> _arguments = new();
    private string? _restArgument;
    private Func<Exception, int?> _exitCodeOf = _ => null;
    private int _internalErrorCode = 70;
    private Func<Exception, bool> _isUserError = _ => false;
    private Func<Exception, Exception> _translate = e => e;
    private Func<Action<string>, IDisposable>? _handleInterrupts;
    private string _description = "";
    private string _defaultTarget = "Default";
    private KilnConsole _console = KilnConsole.Terminal;

    public KilnHost UseContext<TContext>() where TContext : ICakeContext
    {
        _contextType = typeof(TContext);
        return this;
    }

    /// <summary>Where help, the log and errors go (this process's terminal unless a test says otherwise).</summary>
    public KilnHost UseConsole(KilnConsole console)
    {
        _console = console;
        return this;
    }

    public KilnHost AddAssembly(Assembly assembly)
    {
        _assemblies.Add(assembly);
        return this;
    }

    public KilnHost UseDescription(string description)
    {
        _description = description;
        return this;
    }

    public KilnHost UseDefaultTarget(string target)
    {
        _defaultTarget = target;
        return this;
    }

    /// <param name="restArgument">The argument that everything after <c>--</c> becomes (one command, quoted for sh); null rejects <c>--</c>.</param>
    public KilnHost UseArguments(IEnumerable<HostArgument> arguments, string? restArgument = null)
    {
        _arguments.AddRange(arguments);
        _restArgument = restArgument;
        return this;
    }

    /// <summary>
    /// How to read an exit code off an exception, whether it is the user's error (no stack trace), and the code of an
    /// internal error: an exception <paramref name="exitCodeOf"/> has no code for is a bug in Kiln, reported with its stack trace.
    /// </summary>
    public KilnHost UseExitCodes(Func<Exception, int?> exitCodeOf, Func<Exception, bool> isUserError, int internalError)
    {
        _exitCodeOf = exitCodeOf;
        _isUserError = isUserError;
        _internalErrorCode = internalError;
        return this;
    }

    /// <summary>
    /// Installs signal handling for the length of a target run; it reports through the error channel it is given.
    /// </summary>
    public KilnHost UseInterruptHandling(Func<Action<string>, IDisposable> install)
    {
        _handleInterrupts = install;
        return this;
    }

    /// <summary>Turns an exception the host recognises (a full disk, say) into the user's error before it is reported.</summary>
    public KilnHost UseErrorTranslation(Func<Exception, Exception> translate)
    {
        _translate = translate;
        return this;
    }

    /// <summary>The tasks found in the assemblies, by name.</summary>
    public IReadOnlyList<TaskDefinition> Tasks => TaskDefinition.Discover(_assemblies.Count > 0 ? _assemblies : new List<Assembly> { Assembly.GetEntryAssembly()! });

    public int Run(IEnumerable<string> args)
    {
        CommandLine commandLine;
        try
        {
            commandLine = CommandLine.Parse(args.ToList(), _arguments, _restArgument);
        }
        catch (CommandLineException e)
        {
            WriteError(e.Message);
            return 2;
        }

        var tasks = Tasks;
        if (commandLine.Help)
        {
            HelpPrinter.Print(_console.Spectre, _description, tasks, _arguments, _defaultTarget, _restArgument);
            return 0;
        }

        var target = commandLine.Target ?? _defaultTarget;
        var task = tasks.FirstOrDefault(t => string.Equals(t.Name, target, StringComparison.OrdinalIgnoreCase));
        if (task is null)
        {
            WriteError($"Unknown target '{target}'.{CommandLine.Suggest(target, tasks.Select(t => t.Name))} Valid targets: {string.Join(", ", tasks.Select(t => t.Name))}.");
            return 2;
        }

        if (!TryParseVerbosity(commandLine.Verbosity, out var verbosity))
        {
            WriteError($"Unknown verbosity '{commandLine.Verbosity}'. Valid: quiet, minimal, normal, verbose, diagnostic.");
            return 2;
        }

        var cakeConsole = _console.Cake;
        var log = new CakeBuildLog(cakeConsole, verbosity);
        using var interrupts = _handleInterrupts?.Invoke(WriteError);
        try
        {
            var context = CreateContext(commandLine, task.Name, log);
            var engine = new CakeEngine(new CakeDataService(), log);
            foreach (var definition in tasks) definition.Register(engine);

            var report = commandLine switch
            {
                { DryRun: true } => new DryRunScriptHost(engine, context, log).RunTargetAsync(task.Name),
                { Tree: true } => new TreeScriptHost(engine, context, cakeConsole).RunTargetAsync(task.Name),
                _ => new BuildScriptHost(engine, new DefaultExecutionStrategy(log, new CakeSpectreReportPrinter(_console.Spectre)), context,
                    new CakeSpectreReportPrinter(_console.Spectre), context.Configuration, log).RunTargetAsync(task.Name),
            };
            report.GetAwaiter().GetResult();
            return 0;
        }
        catch (Exception raw)
        {
            var e = _translate(Unwrap(raw));
            var code = _exitCodeOf(e) ?? (e as CakeException)?.ExitCode;
            if (code is null)
            {
                WriteError($"Internal error (exit {_internalErrorCode}): Kiln failed in a way it does not expect, which is a bug in Kiln " +
                           "rather than in your input, kernel or machine. Please report it with this output.\n" + e);
                return _internalErrorCode;
            }
            WriteError(_isUserError(e) && verbosity < Verbosity.Diagnostic ? e.Message : e.ToString());
            return code == 0 ? 1 : code.Value;
        }
    }

    /// <summary>The context, its arguments holding the target that runs as "target", as Cake's do (Argument("target", …)).</summary>
    private ICakeContext CreateContext(CommandLine commandLine, string target, ICakeLog log)
    {
        var arguments = commandLine.Arguments.SelectMany(g => g.Select(v => (g.Key, Value: v))).Append(("target", target))
            .ToLookup(a => a.Item1, a => a.Item2, StringComparer.OrdinalIgnoreCase);
        var fileSystem = new FileSystem();
        var environment = new CakeEnvironment(new CakePlatform(), new CakeRuntime());
        var globber = new Globber(fileSystem, environment);
        var configuration = new CakeConfiguration(new Dictionary<string, string>());
        var tools = new ToolLocator(environment, new ToolRepository(environment),
            new ToolResolutionStrategy(fileSystem, environment, globber, configuration, log));
        var processRunner = new ProcessRunner(fileSystem, environment, log, tools, configuration);
        var services = new SingleServiceProvider();
        var cake = new CakeContext(fileSystem, environment, globber, log, new CakeArguments(arguments),
            processRunner, new WindowsRegistry(), tools, new CakeDataService(), configuration, new UnsupportedToolInstaller(), services);
        return (ICakeContext)Activator.CreateInstance(_contextType, cake)!;
    }

    private void WriteError(string message) => _console.Error(message);

    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: 1 } a: e = a.InnerExceptions[0]; continue;
                case TargetInvocationException { InnerException: { } inner }: e = inner; continue;
                case CakeReportException { InnerException: { } inner }: e = inner; continue;
                default: return e;
            }
        }
    }

    private static bool TryParseVerbosity(string? value, out Verbosity verbosity)
    {
        verbosity = Verbosity.Normal;
        // Names only: Enum.TryParse also takes numbers ("4"), which no documentation mentions.
        return value is null || Enum.GetNames<Verbosity>().Contains(value, StringComparer.OrdinalIgnoreCase) && Enum.TryParse(value, ignoreCase: true, out verbosity);
    }

    /// <summary>CakeContext wants a service provider; the tasks here take what they need from the typed context.</summary>
    private sealed class SingleServiceProvider : IServiceProvider
    {
        public object? GetService(Type serviceType) => null;
    }
}
