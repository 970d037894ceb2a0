using Kiln.Kernel.Sources;
using Kiln.Tests.Integration;

namespace Kiln.Tests.RemoteCache;

/// <summary>
/// Two CI runs in a row sharing only a registry, as the build host runs them. The first has the shared test
/// kernel in its local cache (no compile), boots it and pushes it; the second starts from an empty cache dir
/// and must pull instead of compiling. The failure cases run only the Setup target on that second cache dir
/// with its entry removed: Setup is where the pull-or-build decision is made and printed, so asserting on it
/// avoids a cold kernel build while testing the real code path.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class CiRunTests
{
    private LocalRegistry _registry = null!;
    private string _secondCache = null!;
    private string _work = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _ = SharedKernel.OutDir;
        _registry = LocalRegistry.Start();
        _work = Directory.CreateTempSubdirectory("kiln-ci-runs-").FullName;
        _secondCache = Path.Combine(_work, "second-runner-cache");
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _registry.Dispose();
        SourceCache.DeleteDirectory(_work);
    }

    private KilnRunResult Run(string target, string cacheDir, string registry, string ciOutput) =>
        KilnRun.Run(new[]
        {
            "--target=" + target, "--kernel=6.1", "--cache-dir=" + cacheDir, "--out=" + Path.Combine(_work, "out-" + Path.GetFileName(ciOutput)),
            "--cache-registry=" + registry, "--ci-output=" + ciOutput,
        });

    private static Dictionary<string, string> ReadCiOutput(string path) =>
        File.ReadAllLines(path).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    private string KernelsDir => Path.Combine(_secondCache, "kernels");

    /// <summary>
    /// A miss extracts the source in Setup (the first run pulled and needed none): the shared tree, linked as the
    /// reliability scratch caches do, spares these Setup-only runs extracting 1.3 GB again.
    /// </summary>
    private void LinkSharedSourceTree()
    {
        var link = Path.Combine(_secondCache, "sources", Path.GetFileName(TestKernel.SourceTree));
        if (Directory.Exists(link)) return;
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        Directory.CreateSymbolicLink(link, TestKernel.SourceTree);
    }

    [Test, Order(1)]
    public void The_second_run_pulls_the_first_runs_kernel_instead_of_compiling()
    {
        var first = Run("BootTest", KilnRun.SharedCacheDir, _registry.Address(), Path.Combine(_work, "first.env"));
        Assert.That(first.ExitCode, Is.EqualTo(0), first.ToString());
        Assert.That(first.Output, Does.Contain($"Pushed Linux {KilnRun.Key61} to " + _registry.Address() + $":{KilnRun.Key61}-"));
        var firstOut = ReadCiOutput(Path.Combine(_work, "first.env"));
        Assert.That(firstOut["cache"], Is.EqualTo("local"));
        Assert.That(firstOut["pushed"], Is.EqualTo("true"));

        var second = Run("BootTest", _secondCache, _registry.Address(), Path.Combine(_work, "second.env"));
        Assert.That(second.ExitCode, Is.EqualTo(0), second.ToString());
        Assert.That(second.Output, Does.Contain("pulled from " + _registry.Address()));
        Assert.That(second.Output, Does.Contain("Configure: skipped, cache hit"));
        Assert.That(second.Output, Does.Contain("Source archive verified, not unpacked"));
        Assert.That(second.Output, Does.Not.Contain("Building bzImage").And.Not.Contain("Built Linux"), "the second run must not compile");
        Assert.That(second.Output, Does.Contain($"PASS: Linux {KilnRun.Key61}"));
        Assert.That(second.Output, Does.Not.Contain("Pushed"), "a pulled kernel is not pushed back");

        var secondOut = ReadCiOutput(Path.Combine(_work, "second.env"));
        Assert.That(secondOut["cache"], Is.EqualTo("pulled"));
        Assert.That(secondOut["identity"], Is.EqualTo(firstOut["identity"]));
        Assert.That(secondOut["boot_result"], Is.EqualTo("pass"));
        foreach (var key in new[] { "kernel_image", "metadata", "results_json", "junit", "serial_log" })
            Assert.That(File.Exists(secondOut[key]), Is.True, key);
    }

    [Test, Order(2)]
    public void A_corrupt_artifact_is_ignored_with_a_warning_and_the_kernel_is_built()
    {
        SourceCache.DeleteDirectory(KernelsDir);
        LinkSharedSourceTree();
        var metadataBlob = Directory.GetFiles(Path.Combine(_registry.Storage, "docker", "registry", "v2", "blobs"), "data", SearchOption.AllDirectories)
            .Single(f => File.ReadAllText(f).Contains("\"identity_hash\""));
        File.AppendAllText(metadataBlob, " ");

        var env = Path.Combine(_work, "corrupt.env");
        var run = Run("Setup", _secondCache, _registry.Address(), env);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain("Ignoring " + _registry.Address() + $":{KilnRun.Key61}-").And.Contain("larger than"));
        Assert.That(run.Output, Does.Contain("BuildKernel will compile it"));
        Assert.That(ReadCiOutput(env)["cache"], Is.EqualTo("miss"));
        Assert.That(Directory.Exists(KernelsDir) ? Directory.GetFileSystemEntries(KernelsDir) : Array.Empty<string>(), Is.Empty);
    }

    [Test, Order(3)]
    public void A_registry_that_is_down_is_a_warning_and_never_fails_the_run()
    {
        var down = $"127.0.0.1:{LocalRegistry.FreePort()}/kiln/kernels";
        SourceCache.DeleteDirectory(KernelsDir);
        LinkSharedSourceTree();
        var setup = Run("Setup", _secondCache, down, Path.Combine(_work, "down-setup.env"));
        Assert.That(setup.ExitCode, Is.EqualTo(0), setup.ToString());
        Assert.That(setup.Output, Does.Contain("is unavailable").And.Contain("building locally"));
        Assert.That(setup.Output, Does.Contain("BuildKernel will compile it"));

        // A kernel that built (here: a local cache hit) and booted still passes when the push cannot happen.
        var env = Path.Combine(_work, "down-boot.env");
        var boot = Run("BootTest", KilnRun.SharedCacheDir, down, env);
        Assert.That(boot.ExitCode, Is.EqualTo(0), boot.ToString());
        Assert.That(boot.Output, Does.Contain("Could not push to the remote cache"));
        Assert.That(ReadCiOutput(env)["pushed"], Is.EqualTo("false"));
    }
}
