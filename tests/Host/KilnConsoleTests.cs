using Kiln.Build.Hosting;
using NUnit.Framework;

namespace Kiln.Tests.Host;

public class KilnConsoleTests
{
    [Test]
    public void A_guest_command_s_bytes_reach_the_console_whole_even_when_a_character_is_split_between_writes()
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var console = new KilnConsole(output, error, color: false, redirected: true);
        var bytes = System.Text.Encoding.UTF8.GetBytes("état: ok\n");

        console.CommandOutput.Write(bytes, 0, 1);
        console.CommandOutput.Write(bytes, 1, bytes.Length - 1);
        console.CommandError.Write("oops\n"u8);

        Assert.That(output.ToString(), Is.EqualTo("état: ok\n"));
        Assert.That(error.ToString(), Is.EqualTo("oops\n"));
    }
}
