using System.Diagnostics;

namespace Kiln.Tests.Integration;

/// <summary>
/// A reachable dockerd for the container tests: the machine's own when it runs, otherwise one this fixture starts
/// (and stops) the way a fresh CI machine allows: no iptables, no bridge, since builds run with --network=none.
/// </summary>
public sealed class DockerDaemon : IDisposable
{
    private readonly Process? _started;

    private DockerDaemon(Process? started) => _started = started;

    /// <summary>Ignores the test when docker is not installed; fails it when the daemon cannot be started.</summary>
    public static DockerDaemon EnsureRunning()
    {
        Prerequisite.Require(OnPath("docker") && OnPath("dockerd") && OnPath("debootstrap"),
            "docker.io and debootstrap are not installed (apt-get install docker.io debootstrap): the docker runtime cannot be tested here");
        if (Answers()) return new DockerDaemon(null);

        var log = Path.Combine(Path.GetTempPath(), $"kiln-test-dockerd-{Environment.ProcessId}.log");
        var psi = new ProcessStartInfo("dockerd") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--iptables=false", "--bridge=none" }) psi.ArgumentList.Add(arg);
        var daemon = Process.Start(psi)!;
        var output = new System.Text.StringBuilder();
        daemon.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        daemon.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        daemon.BeginOutputReadLine();
        daemon.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!Answers())
        {
            if (daemon.HasExited || DateTime.UtcNow > deadline)
            {
                if (!daemon.HasExited) daemon.Kill(entireProcessTree: true);
                lock (output) File.WriteAllText(log, output.ToString());
                Assert.Fail($"dockerd did not start (log: {log}):\n{string.Join('\n', output.ToString().Split('\n').TakeLast(15))}");
            }
            Thread.Sleep(500);
        }
        TestContext.Progress.WriteLine("Started dockerd for the docker runtime tests");
        return new DockerDaemon(daemon);
    }

    public void Dispose()
    {
        if (_started is null) return;
        // SIGTERM lets dockerd unmount and remove its socket; a kill would leave them behind.
        Process.Start("kill", new[] { "-TERM", _started.Id.ToString() })!.WaitForExit();
        if (!_started.WaitForExit(30_000)) _started.Kill(entireProcessTree: true);
        _started.Dispose();
    }

    private static bool Answers()
    {
        var psi = new ProcessStartInfo("docker", new[] { "version", "--format", "{{.Server.Version}}" })
            { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0;
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Any(dir => File.Exists(Path.Combine(dir, program)));
}
