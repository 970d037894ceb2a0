namespace Kiln.Build.Hosting;

/// <summary>The command line split into the host's own options and the build's arguments.</summary>
public sealed class CommandLine
{
    private CommandLine(string? target, string? verbosity, bool help, bool dryRun, bool tree, ILookup<string, string> arguments)
    {
        Target = target;
        Verbosity = verbosity;
        Help = help;
        DryRun = dryRun;
        Tree = tree;
        Arguments = arguments;
    }

    /// <summary>The options the host handles itself, listed by --help after the build's own.</summary>
    public static readonly IReadOnlyList<HostArgument> HostOptions = new[]
    {
        new HostArgument("target", "The target to run; it runs its dependencies first.", "NAME"),
        new HostArgument("verbosity", "quiet, minimal, normal, verbose or diagnostic (diagnostic adds stack traces).", "LEVEL", "normal"),
        new HostArgument("dryrun", "Show the tasks the target would run, in order, without running them."),
        new HostArgument("tree", "Show the target's dependency tree."),
        new HostArgument("help", "Show this help."),
    };

    public string? Target { get; }
    public string? Verbosity { get; }
    public bool Help { get; }
    public bool DryRun { get; }
    public bool Tree { get; }
    /// <summary>Build arguments by lower-case name; a bare flag has the value "true".</summary>
    public ILookup<string, string> Arguments { get; }

    /// <summary>
    /// Parses <c>--name=value</c>, <c>--name value</c> (for arguments that take a value) and <c>--flag</c>.
    /// Anything unknown is an error that names it and lists what is valid. Everything after <c>--</c> is one command
    /// (its words quoted for sh) and becomes the value of <paramref name="restArgument"/>, as if given as <c>--exec='…'</c>.
    /// </summary>
    public static CommandLine Parse(IReadOnlyList<string> args, IReadOnlyList<HostArgument> known, string? restArgument = null)
    {
        var all = HostOptions.Concat(known).ToDictionary(a => a.Name, StringComparer.OrdinalIgnoreCase);
        var pairs = new List<KeyValuePair<string, string>>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--" && restArgument is not null)
            {
                if (i + 1 == args.Count)
                    throw new CommandLineException($"Nothing follows '--': give the command to run, e.g. -- cat /proc/version (or --{restArgument}='CMD').");
                pairs.Add(new(restArgument, string.Join(' ', args.Skip(i + 1).Select(Kiln.Kernel.Processes.Command.Quote))));
                break;
            }
            if (arg is "-h" or "-?") arg = "--help";
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
                throw new CommandLineException($"Unexpected '{arg}': arguments take the form --name=value. Run with --help for the list.");
            var body = arg[2..];
            var eq = body.IndexOf('=');
            var name = eq < 0 ? body : body[..eq];
            if (!all.TryGetValue(name, out var spec))
                throw new CommandLineException($"Unknown argument '--{name}'.{Suggest(name, all.Keys)} Valid arguments: {string.Join(", ", all.Keys.Select(k => "--" + k))}.");
            string value;
            if (eq >= 0) value = body[(eq + 1)..];
            else if (spec.IsFlag) value = "true";
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) value = args[++i];
            else throw new CommandLineException($"Argument '--{name}' needs a value: --{name}={spec.ValueName}.");
            if (!spec.IsFlag && value.Length == 0)
                throw new CommandLineException($"Argument '--{name}' needs a value: --{name}={spec.ValueName}.");
            pairs.Add(new(spec.Name, value));
        }

        string? Single(string name) => pairs.LastOrDefault(p => p.Key == name).Value;
        bool Flag(string name) => pairs.Any(p => p.Key == name && !string.Equals(p.Value, "false", StringComparison.OrdinalIgnoreCase));
        var host = HostOptions.Select(h => h.Name).ToHashSet();
        return new CommandLine(Single("target"), Single("verbosity"), Flag("help"), Flag("dryrun"), Flag("tree"),
            pairs.Where(p => !host.Contains(p.Key)).ToLookup(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase));
    }

    internal static string Suggest(string given, IEnumerable<string> candidates)
    {
        var best = candidates
            .Select(c => (c, d: Distance(given.ToLowerInvariant(), c.ToLowerInvariant())))
            .OrderBy(x => x.d).FirstOrDefault();
        return best.c is not null && best.d <= Math.Max(2, given.Length / 3) ? $" Did you mean '{best.c}'?" : "";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        for (var j = 1; j <= b.Length; j++)
            d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}

/// <summary>The command line is wrong; the host prints the message and exits 2.</summary>
public sealed class CommandLineException : Exception
{
    public CommandLineException(string message) : base(message)
    {
    }
}
