using Kiln.Build;
using Kiln.Build.Hosting;
using Kiln.Kernel;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Run;
using Kiln.Tests.Config;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Sessions;

/// <summary>Run's and Shell's arguments, the guest's init and QEMU's command line; the real boots are in <see cref="GuestSessionIntegrationTests"/>.</summary>
public class GuestSessionTests
{
    private static KilnOptions Options(params (string Name, string Value)[] arguments) =>
        KilnOptions.Parse(arguments.ToLookup(a => a.Name, a => a.Value), new Dictionary<string, string?>(), TestPaths.RepositoryRoot);

    [Test]
    public void Everything_after_a_double_dash_is_one_command_that_sh_reads_back_word_for_word()
    {
        string[] words = ["printf", "%s|", "a b", "it's", "$HOME", "*", ""];
        var line = CommandLine.Parse(["--target=Run", "--kernel=6.1", "--", .. words], BuildArguments.All, BuildArguments.Rest);

        Assert.That(line.Target, Is.EqualTo("Run"));
        Assert.That(line.Arguments["kernel"].Single(), Is.EqualTo("6.1"));
        var exec = line.Arguments[BuildArguments.Rest].Single();
        var result = new Command("/bin/sh", "-c", exec).Run(new RecordingLog());
        Assert.That(result.StandardOutput.TrimEnd('\n'), Is.EqualTo("a b|it's|$HOME|*||"), exec);
    }

    [Test]
    public void Arguments_after_the_double_dash_are_the_command_s_own_even_when_they_look_like_kiln_s()
    {
        var line = CommandLine.Parse(["--target=Run", "--", "ls", "--kernel=x", "--help"], BuildArguments.All, BuildArguments.Rest);
        Assert.That(line.Help, Is.False);
        Assert.That(line.Arguments["kernel"], Is.Empty);
        Assert.That(line.Arguments[BuildArguments.Rest].Single(), Is.EqualTo("ls --kernel=x --help"));
    }

    [Test]
    public void A_double_dash_with_nothing_after_it_says_what_to_give()
    {
        var e = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--target=Run", "--"], BuildArguments.All, BuildArguments.Rest))!;
        Assert.That(e.Message, Does.Contain("Nothing follows '--'").And.Contain("--exec="));
    }

    [Test]
    public void Run_without_a_command_is_exit_2_before_any_work()
    {
        var e = Assert.Throws<KilnException>(() => Options(("target", "Run")))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("--target=Run needs a command").And.Contain("-- CMD"));
    }

    [TestCase("BootTest")]
    [TestCase("Shell")]
    public void A_command_for_another_target_is_exit_2(string target)
    {
        var e = Assert.Throws<KilnException>(() => Options(("target", target), ("exec", "true")))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain($"not of --target={target}"));
    }

    [Test]
    public void Gdb_belongs_to_run_and_shell()
    {
        var e = Assert.Throws<KilnException>(() => Options(("target", "BootTest"), ("gdb", "true")))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(Options(("target", "Run"), ("exec", "true"), ("gdb", "true")).Gdb, Is.True);
    }

    [Test]
    public void Shell_without_a_terminal_is_exit_2_pointing_at_run()
    {
        if (!Console.IsInputRedirected && !Console.IsOutputRedirected) Assert.Ignore("this test process has a terminal");
        var e = Assert.Throws<KilnException>(() => Options(("target", "Shell")))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("needs an interactive terminal").And.Contain("--target=Run -- CMD"));
    }

    private static GuestSessionSpec Spec(string? command, Arch? arch = null) => new()
    {
        KernelPath = "/k/bzImage", Arch = arch ?? Arch.X86_64, Machine = MachineSetup.Default(arch ?? Arch.X86_64), BusyboxPath = "/bin/busybox",
        Command = command, WorkingDirectory = "/home/dev/linux", OutputDirectory = "/tmp/out", TerminalSize = (40, 120), Terminal = "xterm-256color",
    };

    [TestCase("make -C tools/testing/selftests run_tests", true)]
    [TestCase(null, true)]
    [TestCase("true", false)]
    public void The_guest_init_is_valid_sh(string? command, bool shareRoot)
    {
        var script = SessionInit.Script(Spec(command), shareRoot);
        var result = new Command("/bin/sh", "-n") { StandardInput = script, AcceptedExitCodes = [0, 2] }.Run(new RecordingLog());
        Assert.That(result.ExitCode, Is.EqualTo(0), result.StandardError + "\n" + script);
        // busybox sh is the shell that runs it.
        var busybox = new Command("/bin/busybox", "sh", "-n") { StandardInput = script, AcceptedExitCodes = [0, 1, 2] }.Run(new RecordingLog());
        Assert.That(busybox.ExitCode, Is.EqualTo(0), busybox.StandardError);
    }

    [Test]
    public void Run_s_init_needs_the_output_ports_and_the_shares_and_mounts_the_work_directory_under_the_host_root()
    {
        var script = SessionInit.Script(Spec("true"), shareRoot: true);
        Assert.That(script, Does.Contain("CONFIG_9P_FS CONFIG_NET_9P_VIRTIO CONFIG_DEVTMPFS CONFIG_TMPFS CONFIG_VIRTIO_PCI CONFIG_VIRTIO_CONSOLE"));
        Assert.That(script, Does.Contain($"share {HostShares.RootTag} \"$1\" ,ro"));
        Assert.That(script, Does.Contain("mount_root $R\n"));
        Assert.That(script, Does.Contain($"share {HostShares.WorkTag} \"{SessionInit.RootMount}$CWD\""));
        Assert.That(script, Does.Contain("</dev/null >\"$out\" 2>\"$err\" 3>&-"), "the command gets neither stdin nor the report device");
        Assert.That(script, Does.Contain("TERM=dumb"));
    }

    [Test]
    public void Shell_s_init_gives_the_console_the_terminal_s_size_and_a_controlling_tty()
    {
        var script = SessionInit.Script(Spec(null), shareRoot: true);
        Assert.That(script, Does.Contain("stty -F /dev/ttyS0 rows 40 cols 120"));
        Assert.That(script, Does.Contain("setsid -c chroot $R $sh"));
        Assert.That(script, Does.Contain("TERM=xterm-256color"));
        Assert.That(script, Does.Not.Contain("CONFIG_VIRTIO_CONSOLE"), "a shell needs no output ports");
    }

    [Test]
    public void A_foreign_guest_runs_the_command_in_busybox_with_the_directory_still_shared()
    {
        var script = SessionInit.Script(Spec("uname -m", Arch.Arm64), shareRoot: false);
        Assert.That(script, Does.Not.Contain("mount_root $R"));
        Assert.That(script, Does.Contain("R=/\n"));
        Assert.That(script, Does.Contain($"share {HostShares.WorkTag} \"$CWD\""));
        Assert.That(script, Does.Contain("/dev/ttyAMA0").Or.Contain("/dev/hvc0"));
    }

    [Test]
    public void An_interactive_console_is_the_terminal_logged_by_qemu_with_ctrl_c_for_the_guest()
    {
        var runner = new QemuRunner(new RecordingLog(), _ => false);
        var spec = new QemuSpec
        {
            Arch = Arch.X86_64, KernelPath = "/k/bzImage", InitrdPath = "/k/i", ReportPath = "/o/report.log", Interactive = true, GdbPort = 41234,
        };
        var command = runner.BuildCommand(spec, Accelerator.Tcg, serialLogPath: "/o,x/serial.log");
        var args = command.Arguments;
        Assert.That(args.Skip(args.IndexOf("-chardev")).Take(4), Is.EqualTo(new[]
            { "-chardev", "stdio,id=kilncon,mux=on,signal=off,logfile=/o,,x/serial.log", "-serial", "chardev:kilncon" }));
        Assert.That(args, Does.Not.Contain("stdio"));
        Assert.That((command.InheritConsole, command.StandardInput), Is.EqualTo((true, (string?)null)));
        Assert.That(args.Skip(args.IndexOf("-gdb")).Take(3), Is.EqualTo(new[] { "-gdb", "tcp:127.0.0.1:41234", "-S" }));
    }

    [Test]
    public void A_free_local_port_can_be_listened_on()
    {
        var port = GuestSession.FreeLocalPort();
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
        Assert.DoesNotThrow(listener.Start);
        listener.Stop();
    }
}
