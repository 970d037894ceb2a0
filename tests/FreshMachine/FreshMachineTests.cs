using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Kiln.Tests.Integration;

namespace Kiln.Tests.FreshMachine;

/// <summary>
/// The README's first command on a machine that has only Debian 12, the .NET SDK and root: a container made from
/// a bare debootstrap of bookworm (apt's package lists empty, no Kiln cache, no NuGet cache), with the host's .NET
/// SDK mounted read-only and a copy of this repository. Setup must make apt usable, install what it needs, and the
/// kernel must be built and boot.
/// </summary>
[TestFixture]
[Category("FreshMachine")]
[NonParallelizable]
public sealed class FreshMachineTests
{
    private const string Mirror = "http://deb.debian.org/debian";
    // What a Debian 12 machine with the .NET SDK has beyond minbase: the SDK package's own dependencies.
    private static readonly string[] SdkDependencies = { "ca-certificates", "libicu72", "libssl3" };
    // A fresh Debian 12 install's sources: the release, its updates and its security archive.
    private const string SourcesList =
        "deb http://deb.debian.org/debian bookworm main\n" +
        "deb http://deb.debian.org/debian bookworm-updates main\n" +
        "deb http://deb.debian.org/debian-security bookworm-security main\n";

    private const string LocalAnchors = "/usr/local/share/ca-certificates";

    private DockerDaemon? _daemon;
    private string _workDir = "";

    [OneTimeSetUp]
    public void StartDocker()
    {
        Prerequisite.Require(Environment.UserName == "root", "making a Debian root file system with debootstrap needs root");
        _daemon = DockerDaemon.EnsureRunning();
        _workDir = Directory.CreateTempSubdirectory("kiln-fresh-").FullName;
    }

    [OneTimeTearDown]
    public void StopDocker()
    {
        _daemon?.Dispose();
        if (_workDir.Length == 0 || !Directory.Exists(_workDir)) return;
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Passed)
            Directory.Delete(_workDir, recursive: true);
        else
            TestContext.Progress.WriteLine($"Kept {_workDir} (run.log, artifacts) for inspection");
    }

    [Test]
    public void TheReadmesFirstCommandBuildsAndBootsOnAFreshDebian12()
    {
        var image = BareDebianImage();
        var dotnetRoot = DotnetRoot();
        var artifacts = Path.Combine(_workDir, "artifacts");
        Directory.CreateDirectory(artifacts);

        // The copy leaves out what a clone does not have: git metadata, build outputs, the built host.
        const string script = """
            set -e
            lists=$(ls /var/lib/apt/lists | grep -v -e '^lock$' -e '^partial$' -e '^auxfiles$' || true)
            [ -z "$lists" ] || { echo "not fresh: apt lists $lists"; exit 99; }
            [ ! -e /root/.cache/kiln ] || { echo "not fresh: a Kiln cache"; exit 99; }
            mkdir -p /root/kiln
            tar -C /src --exclude=./.git --exclude=./.kiln-host --exclude=./artifacts --exclude=./TestResults \
                --exclude=./.ci/tools --exclude=./build/bin --exclude=./build/obj --exclude=./kernel/bin \
                --exclude=./kernel/obj --exclude=./tests/bin --exclude=./tests/obj -cf - . | tar -C /root/kiln -xf -
            cd /root/kiln
            echo "fresh machine: $(. /etc/os-release; echo $PRETTY_NAME), dotnet $(dotnet --version), empty apt lists"
            exec ./build.sh --target=BootTest --kernel=6.1
            """;
        var name = "kiln-fresh-" + Guid.NewGuid().ToString("N")[..8];
        var log = Path.Combine(_workDir, "run.log");
        var watch = Stopwatch.StartNew();
        var exit = Docker(TimeSpan.FromMinutes(60), log,
            "run", "--rm", "--name", name, "--network", "host",
            "--volume", $"{dotnetRoot}:{dotnetRoot}:ro",
            "--volume", $"{KilnRun.RepoRoot}:/src:ro",
            "--volume", $"{artifacts}:/root/kiln/artifacts",
            "--env", $"PATH={dotnetRoot}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env", $"DOTNET_ROOT={dotnetRoot}", "--env", "HOME=/root",
            // How this site's machines reach NuGet (certificate revocation lists cannot be fetched here).
            "--env", "NUGET_CERT_REVOCATION_MODE=" + (Environment.GetEnvironmentVariable("NUGET_CERT_REVOCATION_MODE") ?? "online"),
            image, "bash", "-c", script);
        var output = File.ReadAllText(log);
        TestContext.Progress.WriteLine($"fresh machine: exit {exit} after {watch.Elapsed.TotalMinutes:F1} min");
        string Tail() => string.Join('\n', output.Split('\n').TakeLast(60));

        Assert.That(output, Does.Contain("fresh machine: Debian GNU/Linux 12 (bookworm)"), Tail());
        Assert.That(exit, Is.EqualTo(0), Tail());
        Assert.That(output, Does.Contain("apt-get update"), "Setup updated apt's lists itself:\n" + Tail());
        Assert.That(output, Does.Match(@"PASS: Linux 6\.1\.\d+-\d+"), Tail());

        var results = Directory.GetFiles(artifacts, "results.json", SearchOption.AllDirectories);
        Assert.That(results, Has.Length.EqualTo(1), "BootTest wrote its results into the default artifacts directory");
        var root = JsonDocument.Parse(File.ReadAllText(results[0])).RootElement;
        Assert.That(root.GetProperty("passed").GetBoolean(), Is.True, File.ReadAllText(results[0]));
    }

    /// <summary>
    /// kiln-fresh-debian:&lt;hash&gt;: debootstrap --variant=minbase of bookworm plus the SDK's dependencies, with
    /// apt's lists and caches removed. Made once per machine; every test run starts a new container from it.
    /// </summary>
    private string BareDebianImage()
    {
        // The site's own trust anchors (a TLS-inspecting proxy in front of NuGet, say) belong to every machine of the
        // site, fresh or not: they are copied in, as a provisioning step would.
        var localAnchors = Directory.Exists(LocalAnchors) ? Directory.GetFiles(LocalAnchors, "*.crt").Order(StringComparer.Ordinal).ToArray() : [];
        var recipe = $"bookworm {Mirror} {string.Join(',', SdkDependencies)}\n{SourcesList}" +
                     string.Concat(localAnchors.Select(File.ReadAllText));
        var tag = "kiln-fresh-debian:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(recipe)))[..16];
        var log = Path.Combine(_workDir, "image.log");
        if (Docker(TimeSpan.FromMinutes(1), log, "image", "inspect", tag) == 0) return tag;

        var rootfs = Path.Combine(_workDir, "rootfs");
        Assert.That(Run(TimeSpan.FromMinutes(20), log, "debootstrap", "--variant=minbase", "--include=" + string.Join(',', SdkDependencies),
            "bookworm", rootfs, Mirror), Is.EqualTo(0), "debootstrap:\n" + File.ReadAllText(log));
        foreach (var dir in new[] { "var/lib/apt/lists", "var/cache/apt" })
            foreach (var entry in Directory.EnumerateFileSystemEntries(Path.Combine(rootfs, dir)))
                if (File.Exists(entry)) File.Delete(entry);
                else if (Path.GetFileName(entry) != "partial") Directory.Delete(entry, recursive: true);
        File.WriteAllText(Path.Combine(rootfs, "etc/apt/sources.list"), SourcesList);
        if (localAnchors.Length > 0)
        {
            foreach (var anchor in localAnchors)
                File.Copy(anchor, Path.Combine(rootfs, LocalAnchors.TrimStart('/'), Path.GetFileName(anchor)));
            Assert.That(Run(TimeSpan.FromMinutes(2), log, "chroot", rootfs, "update-ca-certificates"), Is.EqualTo(0), File.ReadAllText(log));
        }
        var tarball = Path.Combine(_workDir, "rootfs.tar");
        Assert.That(Run(TimeSpan.FromMinutes(5), log, "tar", "-C", rootfs, "--numeric-owner", "-cf", tarball, "."), Is.EqualTo(0), File.ReadAllText(log));
        Assert.That(Docker(TimeSpan.FromMinutes(5), log, "import", tarball, tag), Is.EqualTo(0), File.ReadAllText(log));
        Directory.Delete(rootfs, recursive: true);
        File.Delete(tarball);
        return tag;
    }

    /// <summary>The host's .NET SDK installation (what `dotnet` resolves to), mounted into the container as it is.</summary>
    private static string DotnetRoot()
    {
        var dotnet = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(dir => Path.Combine(dir, "dotnet")).First(File.Exists);
        var target = new FileInfo(dotnet).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? dotnet;
        return Path.GetDirectoryName(target)!;
    }

    private static int Docker(TimeSpan timeout, string log, params string[] args) => Run(timeout, log, "docker", args);

    /// <summary>Runs a program with stdout and stderr appended to a log file; kills it (and for docker run, the container) on timeout.</summary>
    private static int Run(TimeSpan timeout, string log, string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var writer = new StreamWriter(log, append: true) { AutoFlush = true };
        using var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (writer) writer.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (writer) writer.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            if (program == "docker" && args.Length > 3 && args[0] == "run")
                Process.Start("docker", new[] { "rm", "-f", args[Array.IndexOf(args, "--name") + 1] })!.WaitForExit();
            Assert.Fail($"{program} {args[0]} did not finish in {timeout.TotalMinutes} min; log: {log}");
        }
        process.WaitForExit();
        return process.ExitCode;
    }
}
