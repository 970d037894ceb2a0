using System.Reflection;
using Cake.Cli;
using Cake.Core;
using Cake.Core.Configuration;
using Cake.Core.Diagnostics;
using Cake.Core.IO;
using Cake.Core.Tooling;
using Spectre.Console;

namespace Cake.Frosting;

/// <summary>
/// A small host with Cake.Frosting's public API (UseContext, tasks found by attribute, Run) on the
/// Cake.Core engine, so the real Cake.Frosting can replace it by changing a reference.
/// Kiln's additions: declared arguments (for --help and rejecting typos) and exit codes taken from exceptions.
/// </summary>
public sealed class CakeHost
{
    private Type _contextType = typeof(FrostingContext);
    private readonly List<Assembly> _assemblies = new();
    private readonly List<HostArgument> _arguments = new();
    private Func<Exception, int?> _exitCodeOf = _ => null;
    private Func<Exception, bool> _isUserError = _ => false;
    private Func<Exception, Exception> _translate = e => e;
    private string _description = "";
    private string _defaultTarget = "Default";

    public CakeHost UseContext<TContext>() where TContext : ICakeContext
    {
        _contextType = typeof(TContext);
        return this;
    }

    public CakeHost AddAssembly(Assembly assembly)
    {
        _assemblies.Add(assembly);
        return this;
    }

    public CakeHost UseDescription(string description)
    {
        _description = description;
        return this;
    }

    public CakeHost UseDefaultTarget(string target)
    {
        _defaultTarget = target;
        return this;
    }

    public CakeHost UseArguments(IEnumerable<HostArgument> arguments)
    {
        _arguments.AddRange(arguments);
        return this;
    }

    /// <summary>How to read an exit code off an exception, and whether it is the user's error (no stack trace).</summary>
    public CakeHost UseExitCodes(Func<Exception, int?> exitCodeOf, Func<Exception, bool> isUserError)
    {
        _exitCodeOf = exitCodeOf;
        _isUserError = isUserError;
        return this;
    }

    /// <summary>Turns an exception the host recognises (a full disk, say) into the user's error before it is reported.</summary>
    public CakeHost UseErrorTranslation(Func<Exception, Exception> translate)
    {
        _translate = translate;
        return this;
    }

    /// <summary>The tasks found in the assemblies, by name.</summary>
    public IReadOnlyList<TaskDefinition> Tasks => TaskDefinition.Discover(_assemblies.Count > 0 ? _assemblies : new List<Assembly> { Assembly.GetEntryAssembly()! });

    public int Run(IEnumerable<string> args)
    {
        var console = ConsoleStyle.CreateSpectreConsole();
        CommandLine commandLine;
        try
        {
            commandLine = CommandLine.Parse(args.ToList(), _arguments);
        }
        catch (CommandLineException e)
        {
            WriteError(e.Message);
            return 2;
        }

        var tasks = Tasks;
        if (commandLine.Help)
        {
            HelpPrinter.Print(console, _description, tasks, _arguments, _defaultTarget);
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

        var cakeConsole = ConsoleStyle.CakeConsole(new CakeConsole(new CakeEnvironment(new CakePlatform(), new CakeRuntime())));
        var log = new CakeBuildLog(cakeConsole, verbosity);
        try
        {
            var context = CreateContext(commandLine, log);
            var engine = new CakeEngine(new CakeDataService(), log);
            foreach (var definition in tasks) definition.Register(engine);

            var report = commandLine switch
            {
                { DryRun: true } => new DryRunScriptHost(engine, context, log).RunTargetAsync(task.Name),
                { Tree: true } => new TreeScriptHost(engine, context, cakeConsole).RunTargetAsync(task.Name),
                _ => new BuildScriptHost(engine, new DefaultExecutionStrategy(log, new CakeSpectreReportPrinter(console)), context,
                    new CakeSpectreReportPrinter(console), context.Configuration, log).RunTargetAsync(task.Name),
            };
            report.GetAwaiter().GetResult();
            return 0;
        }
        catch (Exception raw)
        {
            var e = _translate(Unwrap(raw));
            var code = _exitCodeOf(e) ?? (e as CakeException)?.ExitCode ?? 3;
            WriteError(_isUserError(e) && verbosity < Verbosity.Diagnostic ? e.Message : e.ToString());
            return code == 0 ? 1 : code;
        }
    }

    private ICakeContext CreateContext(CommandLine commandLine, ICakeLog log)
    {
        var fileSystem = new FileSystem();
        var environment = new CakeEnvironment(new CakePlatform(), new CakeRuntime());
        var globber = new Globber(fileSystem, environment);
        var configuration = new CakeConfiguration(new Dictionary<string, string>());
        var tools = new ToolLocator(environment, new ToolRepository(environment),
            new ToolResolutionStrategy(fileSystem, environment, globber, configuration, log));
        var processRunner = new ProcessRunner(fileSystem, environment, log, tools, configuration);
        var services = new SingleServiceProvider();
        var cake = new CakeContext(fileSystem, environment, globber, log, new CakeArguments(commandLine.Arguments),
            processRunner, new WindowsRegistry(), tools, new CakeDataService(), configuration, new UnsupportedToolInstaller(), services);
        return (ICakeContext)Activator.CreateInstance(_contextType, cake)!;
    }

    /// <summary>Errors go to stderr unwrapped (not re-flowed to the console width), so they stay greppable.</summary>
    private static void WriteError(string message)
    {
        Console.Error.WriteLine((ConsoleStyle.Color ? "\u001b[31mError:\u001b[0m " : "Error: ") + message);
    }

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
        return value is null || Enum.TryParse(value, ignoreCase: true, out verbosity) && Enum.IsDefined(verbosity);
    }

    /// <summary>CakeContext wants a service provider; the tasks here take what they need from the typed context.</summary>
    private sealed class SingleServiceProvider : IServiceProvider
    {
        public object? GetService(Type serviceType) => null;
    }
}
