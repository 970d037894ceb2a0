using System.Diagnostics;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;
using NUnit.Framework;

namespace Kiln.Tests.Domain;

/// <summary>How children start: under the parent-death signal, from a thread that outlives the caller's, and with the same errors as before.</summary>
public class ChildProcessesTests
{
    [Test]
    public void WrapperExecsTheProgramAsKilnsOwnChild()
    {
        var result = new Command("sh", "-c", "grep '^PPid' /proc/$$/status").Run(new RecordingLog());

        // setpriv execs the program in its own process: the child is sh itself, not a wrapper around it.
        Assert.That(result.StandardOutput, Does.StartWith("PPid:\t" + Environment.ProcessId));
    }

    [Test]
    public void ChildOutlivesTheThreadThatAskedForIt()
    {
        // PR_SET_PDEATHSIG fires when the forking thread ends; a pool thread may end at any time, the child must not.
        Process? child = null;
        var thread = new Thread(() => child = ChildProcesses.Start(new ProcessStartInfo("sleep") { ArgumentList = { "30" } }));
        thread.Start();
        thread.Join();
        Thread.Sleep(500);
        try
        {
            Assert.That(child!.HasExited, Is.False, "the child died with the thread that started it");
        }
        finally
        {
            child!.Kill();
            child.WaitForExit();
        }
    }

    [Test]
    public void MissingProgramIsBadInputNamingIt()
    {
        var e = Assert.Throws<KilnException>(() => new Command("kiln-no-such-program").Run(new RecordingLog()));

        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("Cannot run 'kiln-no-such-program'"));
    }

    [Test]
    public void FileThatIsNotExecutableIsBadInput()
    {
        var file = Path.GetTempFileName();
        try
        {
            var e = Assert.Throws<KilnException>(() => new Command(file).Run(new RecordingLog()));
            Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
