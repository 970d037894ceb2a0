using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Kiln.Tests.Integration;
using NUnit.Framework;

namespace Kiln.Tests.Sessions;

/// <summary>
/// Run and Shell on the shared 6.1 kernel (a cache hit): real QEMU, the host's / over 9p, the current directory read-write,
/// the command's output on virtio serial ports, gdb on QEMU's stub and a shell on a pseudo-terminal.
/// </summary>
[TestFixture, Category("Integration"), NonParallelizable]
public class GuestSessionIntegrationTests
{
    private string _work = "";

    [SetUp]
    public void CreateWorkDirectory() => _work = Directory.CreateTempSubdirectory("kiln-run-").FullName;

    [TearDown]
    public void RemoveWorkDirectory() => Directory.Delete(_work, recursive: true);

    private string[] Arguments(string target, params string[] more) =>
        [$"--target={target}", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + Path.Combine(_work, "out"), .. more];

    [Test]
    public void Run_streams_the_command_s_output_writes_the_shared_directory_and_exits_with_its_status()
    {
        var run = KilnRun.Run(Arguments("Run", "--", "sh", "-c",
            "cat /proc/version; echo from-guest > written-by-guest; cat host-file; echo to-stderr >&2; test -x /usr/bin/dotnet && echo host-binaries; exit 7"),
            workingDirectory: WithHostFile());

        Assert.That(run.ExitCode, Is.EqualTo(7), run.ToString());
        Assert.That(run.Output, Does.Contain($"Linux version {KilnRun.Key61} "), "the built kernel's /proc/version");
        Assert.That(run.Output, Does.Contain("written-on-host").And.Contain("to-stderr").And.Contain("host-binaries"));
        Assert.That(run.Output, Does.Contain("The command exited with status 7 in the guest."));
        Assert.That(File.ReadAllText(Path.Combine(_work, "cwd", "written-by-guest")), Is.EqualTo("from-guest\n"), "written by the guest, kept on the host");
        Assert.That(File.ReadAllText(Path.Combine(_work, "out", "run", "stderr")), Is.EqualTo("to-stderr\n"), "stderr has its own port");
        Assert.That(File.ReadAllText(Path.Combine(_work, "out", "run", "stdout")), Does.Not.Contain("to-stderr").And.Not.Contain("Booting"));
    }

    [Test]
    public void A_command_the_guest_does_not_have_is_exit_127_with_a_message_and_the_host_root_is_read_only()
    {
        var run = KilnRun.Run(Arguments("Run", "--exec=touch /etc/kiln-must-not-write 2>/dev/null && exit 9; echo ro; touch /tmp/ok && kiln-no-such-command"),
            workingDirectory: WithHostFile());

        Assert.That(run.ExitCode, Is.EqualTo(127), run.ToString());
        Assert.That(run.Output, Does.Contain("ro"), "the host's / is read-only in the guest");
        Assert.That(run.Output, Does.Contain("kiln-no-such-command: not found"), "sh's own message, on stderr");
        Assert.That(run.Output, Does.Contain("The command was not found in the guest (exit 127"));
        Assert.That(File.Exists("/etc/kiln-must-not-write"), Is.False);
    }

    [Test]
    public void Gdb_attaches_to_the_halted_guest_and_reads_the_banner_and_the_run_then_finishes()
    {
        Prerequisite.Require(File.Exists("/usr/bin/gdb"), "gdb is not installed (apt-get install gdb)");
        Task<string>? debugger = null;
        var run = KilnRun.Run(Arguments("Run", "--gdb", "--", "true"), workingDirectory: _work, onLine: line =>
        {
            // The printed command, with the batch steps a user would type: stop in start_kernel, read the banner, let it run.
            if (debugger is null && Regex.IsMatch(line, @"^\s+gdb .*target remote"))
                debugger = Task.Run(() => Gdb(line.Trim().Replace("gdb ", "gdb -batch -ex 'set confirm off' ", StringComparison.Ordinal) +
                                              " -ex 'hbreak start_kernel' -ex continue -ex 'x/s &linux_banner' -ex detach"));
        });

        Assert.That(debugger, Is.Not.Null, "Kiln printed no gdb command:\n" + run);
        var gdb = debugger!.Result;
        Assert.That(gdb, Does.Contain($"<linux_banner>:\t\"Linux version {KilnRun.Key61} "), gdb);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
    }

    [Test]
    public void Shell_gives_a_root_shell_on_the_terminal_with_the_console_as_controlling_tty_and_exits_with_its_status()
    {
        var session = ShellOnPty([("kiln-guest", "echo INSIDE-$((6*7)); tty; stty size; pwd\r"), ("INSIDE-42", "exit 5\r")], rows: 33, columns: 101);
        Assert.That(session.Output, Does.Contain("INSIDE-42").And.Contain("/dev/ttyS0").And.Contain("33 101").And.Contain(_work), session.Output);
        Assert.That(session.ExitCode, Is.EqualTo(5), session.Output);
    }

    [Test]
    public void Shell_is_left_with_ctrl_a_x()
    {
        var session = ShellOnPty([("kiln-guest", "\u0001x")], rows: 24, columns: 80);
        Assert.That(session.Output, Does.Contain("Left the guest with Ctrl-A X"), session.Output);
        Assert.That(session.ExitCode, Is.EqualTo(0), session.Output);
    }

    [Test]
    public void A_boot_test_script_runs_the_host_s_programs_from_the_shared_root_and_writes_the_rwdir()
    {
        var script = Path.Combine(_work, "host-programs.sh");
        var rwdir = Path.Combine(_work, "rw dir");
        File.WriteAllText(script, "#!/bin/sh\nset -e\n[ \"$KILN_HOST\" = /host ]\nchroot \"$KILN_HOST\" /bin/bash -c 'echo \"host bash $BASH_VERSION on $(uname -r)\"'\n" +
                                  "[ \"$KILN_RWDIR\" = \"/host" + rwdir + "\" ]\nuname -r > \"$KILN_RWDIR/from-guest\"\n");
        var run = KilnRun.Run(Arguments("BootTest", "--test=" + script, "--rwdir=" + rwdir));

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(File.ReadAllText(Path.Combine(_work, "out", "boot", "serial.log")), Does.Match($@"host bash \d+\.\d+.* on {Regex.Escape(KilnRun.Key61)}"));
        Assert.That(File.ReadAllText(Path.Combine(rwdir, "from-guest")), Does.StartWith(KilnRun.Key61), "the guest wrote the --rwdir on the host");
    }

    private string WithHostFile()
    {
        var cwd = Path.Combine(_work, "cwd");
        Directory.CreateDirectory(cwd);
        File.WriteAllText(Path.Combine(cwd, "host-file"), "written-on-host\n");
        return cwd;
    }

    private static string Gdb(string commandLine)
    {
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(commandLine + " 2>&1");
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5))) process.Kill(entireProcessTree: true);
        return commandLine + "\n" + output.Result;
    }

    /// <summary>
    /// Kiln's Shell under script(1), which gives it a pseudo-terminal of the given size; each reply is typed once its cue
    /// appears on the terminal.
    /// </summary>
    private (int ExitCode, string Output) ShellOnPty(IReadOnlyList<(string Cue, string Reply)> conversation, int rows, int columns)
    {
        var kiln = string.Join(' ', new[] { "stty", "rows", rows.ToString(), "cols", columns.ToString(), ";", "exec", "dotnet", KilnRun.HostDll }
            .Concat(Arguments("Shell")).Select(Kiln.Kernel.Processes.Command.Quote).Select(w => w == "';'" ? ";" : w));
        var psi = new ProcessStartInfo("script")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _work,
        };
        foreach (var a in new[] { "-q", "-e", "-c", kiln, "/dev/null" }) psi.ArgumentList.Add(a);
        psi.Environment["KILN_ROOT"] = KilnRun.RepoRoot;
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment["TERM"] = "xterm";
        using var process = Process.Start(psi)!;
        var output = new StringBuilder();
        var next = 0;
        var reader = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int read;
            while ((read = await process.StandardOutput.ReadAsync(buffer)) > 0)
            {
                lock (output)
                {
                    output.Append(buffer, 0, read);
                    if (next < conversation.Count && output.ToString().Contains(conversation[next].Cue, StringComparison.Ordinal))
                    {
                        process.StandardInput.Write(conversation[next++].Reply);
                        process.StandardInput.Flush();
                    }
                }
            }
        });
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("Shell did not end:\n" + output);
        }
        reader.Wait(TimeSpan.FromSeconds(30));
        TestContext.Progress.WriteLine($"Shell under script(1): exit {process.ExitCode}");
        lock (output) return (process.ExitCode, output.ToString());
    }
}
