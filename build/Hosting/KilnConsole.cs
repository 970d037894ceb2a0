using Cake.Core;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Kiln.Build.Hosting;

/// <summary>
/// The terminal: the one place Kiln writes to stdout and stderr. Cake's log, tables and --help (Spectre),
/// machine-readable <c>name=value</c> lines and errors all go through it, so colour is decided once: never when
/// NO_COLOR is set (no-color.org) or when stdout or stderr is not a terminal (a CI log, a file, a pipe).
/// </summary>
public sealed class KilnConsole
{
    private readonly TextWriter _out;
    private readonly TextWriter _error;

    /// <param name="rawOutput">Where a guest command's bytes go as they are (this process's stdout); null decodes them onto <paramref name="output"/>.</param>
    /// <param name="rawError">The same for its stderr.</param>
    public KilnConsole(TextWriter output, TextWriter error, bool color, bool redirected, Stream? rawOutput = null, Stream? rawError = null)
    {
        (_out, _error, Color) = (output, error, color);
        CommandOutput = rawOutput ?? new WriterStream(output);
        CommandError = rawError ?? new WriterStream(error);
        Spectre = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = color ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = color ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(output),
        });
        // Piped output (CI logs) gets a wide layout instead of Spectre's 80-column default.
        if (redirected) Spectre.Profile.Width = 160;
        Cake = new CakeConsole(this);
    }

    /// <summary>This process's stdout and stderr.</summary>
    public static KilnConsole Terminal { get; } = new(Console.Out, Console.Error,
        color: string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")) && !Console.IsOutputRedirected && !Console.IsErrorRedirected,
        redirected: Console.IsOutputRedirected, Console.OpenStandardOutput(), Console.OpenStandardError());

    /// <summary>A guest command's stdout (Run), byte for byte: its output is not Kiln's text, so it bypasses the writers.</summary>
    public Stream CommandOutput { get; }

    /// <summary>A guest command's stderr.</summary>
    public Stream CommandError { get; }

    public bool Color { get; }

    /// <summary>For tables and --help.</summary>
    public IAnsiConsole Spectre { get; }

    /// <summary>For Cake's log: Cake writes its own ANSI colours only when this console says it supports them.</summary>
    public IConsole Cake { get; }

    public void Write(IRenderable renderable) => Spectre.Write(renderable);

    public void Line(string text) => _out.WriteLine(text);

    /// <summary>A line scripts grep for (<c>key=…</c>): written as is, never wrapped or styled.</summary>
    public void Value(string name, string value) => _out.WriteLine($"{name}={value}");

    /// <summary>Errors go to stderr unwrapped (not re-flowed to the console width), so they stay greppable.</summary>
    public void Error(string message) => _error.WriteLine((Color ? "\u001b[31mError:\u001b[0m " : "Error: ") + message);

    /// <summary>Bytes decoded as UTF-8 onto a writer (a test's console), a character split across writes kept until it is whole.</summary>
    private sealed class WriterStream(TextWriter writer) : Stream
    {
        private readonly System.Text.Decoder _decoder = System.Text.Encoding.UTF8.GetDecoder();

        public override void Write(byte[] buffer, int offset, int count)
        {
            var chars = new char[_decoder.GetCharCount(buffer, offset, count)];
            writer.Write(chars, 0, _decoder.GetChars(buffer, offset, count, chars, 0));
        }

        public override void Flush() => writer.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private sealed class CakeConsole : IConsole
    {
        private readonly KilnConsole _console;
        public CakeConsole(KilnConsole console) => _console = console;
        // With ANSI support Cake puts colour in the text; without it, it would set these, which change nothing here.
        public ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
        public ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
        public bool SupportAnsiEscapeCodes => _console.Color;
        public void Write(string format, params object[] arg) => _console._out.Write(Format(format, arg));
        public void Write(string value) => _console._out.Write(value);
        public void WriteLine(string format, params object[] arg) => _console._out.WriteLine(Format(format, arg));
        public void WriteLine(string value) => _console._out.WriteLine(value);
        public void WriteError(string format, params object[] arg) => _console._error.Write(Format(format, arg));
        public void WriteError(string value) => _console._error.Write(value);
        public void WriteErrorLine(string format, params object[] arg) => _console._error.WriteLine(Format(format, arg));
        public void WriteErrorLine(string value) => _console._error.WriteLine(value);
        // Without arguments the text is literal: braces in a message are not a format.
        private static string Format(string format, object[] arg) => arg.Length == 0 ? format : string.Format(format, arg);
        public void ResetColor() { }
    }
}
