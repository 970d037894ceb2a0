using System.Diagnostics;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Kiln.Tests.Host;

/// <summary>Logs hold text: no ANSI escapes when output is not a terminal, no colour when NO_COLOR is set.</summary>
public class OutputStyleTests
{
    private static readonly Regex AnyEscape = new("\u001b", RegexOptions.Compiled);
    // SGR (colour, bold): what NO_COLOR is about. .NET itself may still switch a terminal's keypad mode.
    private static readonly Regex Sgr = new(@"\u001b\[[0-9;]*m", RegexOptions.Compiled);

    private static string RunRaw(bool terminal, bool noColor, params string[] args)
    {
        var host = string.Join(' ', new[] { "dotnet", BuildHost.Dll }.Concat(args).Select(a => "'" + a + "'"));
        var psi = terminal
            ? new ProcessStartInfo("script", new[] { "-qec", host, "/dev/null" })
            : new ProcessStartInfo("sh", new[] { "-c", host });
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        psi.UseShellExecute = false;
        psi.Environment["KILN_ROOT"] = Repo.Root;
        psi.Environment.Remove("NO_COLOR");
        if (noColor) psi.Environment["NO_COLOR"] = "1";
        psi.Environment["TERM"] = "xterm-256color";
        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.That(process.WaitForExit(TimeSpan.FromSeconds(90)), "the build host did not finish");
        return stdout.Result + stderr.Result;
    }

    [TestCase("--target=LintPatches")]
    [TestCase("--target=CacheKey", "--kernal=6.1")]
    public void RedirectedOutputHasNoEscapes(params string[] args)
    {
        var output = RunRaw(terminal: false, noColor: false, args);
        Assert.That(output, Does.Contain("patch(es) in").Or.Contain("--kernal"));
        Assert.That(AnyEscape.IsMatch(output), Is.False, output);
    }

    [Test]
    public void ATerminalGetsColourAndNoColorTakesItAway()
    {
        Prerequisite.Require(File.Exists("/usr/bin/script"), "util-linux's script is not installed: no pseudo-terminal to test with");
        var coloured = RunRaw(terminal: true, noColor: false, "--target=CacheKey", "--kernal=6.1");
        Assert.That(Sgr.IsMatch(coloured), Is.True, "a terminal gets colour:\n" + coloured);
        var plain = RunRaw(terminal: true, noColor: true, "--target=CacheKey", "--kernal=6.1");
        Assert.That(plain, Does.Contain("Error: Unknown argument '--kernal'"));
        Assert.That(Sgr.IsMatch(plain), Is.False, plain);
        var table = RunRaw(terminal: true, noColor: true, "--target=CacheKey");
        Assert.That(table, Does.Contain("key="));
        Assert.That(Sgr.IsMatch(table), Is.False, table);
    }
}
