using System.Security.Cryptography;
using System.Text.Json;
using NUnit.Framework.Interfaces;

namespace Kiln.Tests.Integration;

/// <summary>
/// --runtime=docker end to end: the builder image is found or made (debootstrap + docker import), the shared 6.1
/// kernel is configured and compiled inside it and the result boots; compiled in the container with an empty ccache
/// (Extended), it is byte for byte the host build's.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class DockerBuildTests
{
    private DockerDaemon? _daemon;
    private string _workDir = "";

    [OneTimeSetUp]
    public void StartDocker()
    {
        _daemon = DockerDaemon.EnsureRunning();
        _workDir = Path.Combine(Path.GetTempPath(), "kiln-docker-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_workDir);
    }

    [OneTimeTearDown]
    public void StopDocker()
    {
        _daemon?.Dispose();
        if (_workDir.Length == 0 || !Directory.Exists(_workDir)) return;
        if (TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Passed)
            Directory.Delete(_workDir, recursive: true);
        else
            TestContext.Progress.WriteLine($"Kept {_workDir} (cache, build, artifacts) for inspection");
    }

    /// <summary>Extended: its own cold build in the builder image (the bisect work dir shares no objects with other builds).</summary>
    [Test]
    [Category("Extended")]
    public void A_bisect_with_the_docker_runtime_builds_its_steps_in_the_builder_image()
    {
        var root = Path.Combine(_workDir, "bisect");
        var (repo, repoPath, good, panics) = Kiln.Tests.Bisect.BisectIntegrationTests.ThreeCommitHistory(root);
        var before = repo.State();
        var outDir = Path.Combine(root, "out");
        var run = KilnRun.Run(new[] { "--target=Bisect", "--runtime=docker", "--repo=" + repoPath, "--good=" + good[..12], "--bad=main",
            "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir }, timeout: TimeSpan.FromMinutes(90));

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain($"First bad commit: {panics} init: panic in kernel_init"));
        // Each step's make runs in the image (BuildKernel's own log line, printed by the step).
        Assert.That(run.Output, Does.Contain("in docker image kiln-builder:"));
        Assert.That(repo.State(), Is.EqualTo(before));
    }

    /// <summary>
    /// Extended: a cold compile in the container. With the shared ccache the container's compiles would be the host's
    /// objects replayed, and equal bytes would prove nothing about the container's compiler; an empty ccache makes
    /// every compile run in the container. The host build it is compared with is itself a ccache build, which
    /// ReproduceTests proves equal to a rebuild without ccache.
    /// </summary>
    [Test]
    [Category("Extended")]
    public void The_docker_build_compiled_with_an_empty_ccache_is_byte_for_byte_the_host_build()
    {
        var hostBuild = SharedKernel.OutDir;
        var cacheDir = Path.Combine(_workDir, "cold-cache");
        Directory.CreateDirectory(cacheDir);
        // The source tree is shared (by a link); ccache, trees and build directories are this cache's own and empty.
        Directory.CreateSymbolicLink(Path.Combine(cacheDir, "sources"), Path.Combine(KilnRun.SharedCacheDir, "sources"));
        var outDir = Path.Combine(_workDir, "cold-out");
        var run = KilnRun.Run(new[] { "--target=BuildKernel", "--kernel=6.1", "--runtime=docker", "--cache-dir=" + cacheDir, "--out=" + outDir },
            timeout: TimeSpan.FromMinutes(120));
        TestContext.Progress.WriteLine($"cold docker BuildKernel: {run.Duration.TotalSeconds:F0} s");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain("in docker image kiln-builder:"));
        Assert.That(Sha256(Path.Combine(outDir, "bzImage")), Is.EqualTo(Sha256(Path.Combine(hostBuild, "bzImage"))),
            "the same Debian gcc, compiling every file in the container, must give the host build's bzImage");
        Assert.That(Sha256(Path.Combine(outDir, "vmlinux")), Is.EqualTo(Sha256(Path.Combine(hostBuild, "vmlinux"))));
    }

    [Test]
    public void BootTest_with_the_docker_runtime_builds_in_the_builder_image_and_boots()
    {
        var hostBuild = SharedKernel.OutDir;
        var outDir = Path.Combine(_workDir, "out");

        // The shared cache: the docker build gets a build directory of its own (so make runs in the container) next to
        // the host build's patched tree, so the host build's ccache entries serve it: quick, but its bytes are the
        // host's objects replayed, so byte equality is checked by the Extended test above, not here.
        var run = KilnRun.Run(new[] { "--target=BootTest", "--kernel=6.1", "--runtime=docker", "--no-cache", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir });
        TestContext.Progress.WriteLine($"docker BootTest: {run.Duration.TotalSeconds:F0} s; " +
                                       string.Join("; ", run.Output.Split('\n').Where(l => l.Contains("Built Linux") || l.Contains("builder image")).Select(l => l.Trim())));

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain("in docker image kiln-builder:"));
        Assert.That(run.Output, Does.Contain("6.1.192-x86_64-docker"), "the container build keeps its own build directory");
        Assert.That(run.Output, Does.Contain($"PASS: Linux {KilnRun.Key61}"));

        var metadata = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metadata.json"))).RootElement;
        var runtime = metadata.GetProperty("runtime");
        Assert.That(runtime.GetProperty("engine").GetString(), Is.EqualTo("docker"));
        Assert.That(runtime.GetProperty("image").GetString(), Does.Match("^kiln-builder:[0-9a-f]{16}$"));
        Assert.That(runtime.GetProperty("image_id").GetString(), Does.Match("^sha256:[0-9a-f]{64}$"));
        Assert.That(metadata.GetProperty("toolchain").GetProperty("compiler").GetString(), Does.StartWith("gcc (Debian"));

        var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(hostBuild, "metadata.json"))).RootElement;
        Assert.That(metadata.GetProperty("identity_hash").GetString(), Is.Not.EqualTo(host.GetProperty("identity_hash").GetString()),
            "the runtime and its image are part of the cache identity");
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
