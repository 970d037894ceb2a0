using Cake.Core;
using Spectre.Console;

namespace Kiln.Build.Hosting;

/// <summary>
/// Whether Kiln writes colour: never when NO_COLOR is set (no-color.org) or when stdout or stderr is not a
/// terminal (a CI log, a file, a pipe), so logs hold text and no ANSI escape sequences.
/// </summary>
public static class ConsoleStyle
{
    public static bool Color { get; } =
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")) && !Console.IsOutputRedirected && !Console.IsErrorRedirected;

    /// <summary>Spectre's console for tables and --help; also installed as AnsiConsole.Console for the tasks.</summary>
    public static IAnsiConsole CreateSpectreConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = Color ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = Color ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        // Piped output (CI logs) gets a wide layout instead of Spectre's 80-column default.
        if (Console.IsOutputRedirected) console.Profile.Width = 160;
        AnsiConsole.Console = console;
        return console;
    }

    /// <summary>Cake's console for its log, stripped of colour when colour is off.</summary>
    public static IConsole CakeConsole(IConsole console) => Color ? console : new PlainConsole(console);

    /// <summary>Cake's console with colour changes ignored and no ANSI support claimed.</summary>
    private sealed class PlainConsole : IConsole
    {
        private readonly IConsole _inner;
        public PlainConsole(IConsole inner) => _inner = inner;
        public ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
        public ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
        public bool SupportAnsiEscapeCodes => false;
        public void Write(string format, params object[] arg) => _inner.Write(format, arg);
        public void Write(string value) => _inner.Write(value);
        public void WriteLine(string format, params object[] arg) => _inner.WriteLine(format, arg);
        public void WriteLine(string value) => _inner.WriteLine(value);
        public void WriteError(string format, params object[] arg) => _inner.WriteError(format, arg);
        public void WriteError(string value) => _inner.WriteError(value);
        public void WriteErrorLine(string format, params object[] arg) => _inner.WriteErrorLine(format, arg);
        public void WriteErrorLine(string value) => _inner.WriteErrorLine(value);
        public void ResetColor() { }
    }
}
