using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.RemoteCache;
using Kiln.Kernel.Sources;
using Kiln.Kernel.Versions;
using Kiln.Tests.Integration;

namespace Kiln.Tests.RemoteCache;

/// <summary>
/// A fresh CI runner whose kernel is in the registry needs no source tree: BootTest on an empty --cache-dir pulls the
/// shared test kernel (pushed here straight from the warm test cache, no compile and no boot) and boots it without
/// extracting, downloading or patching anything. And the identity computed without extracting is the one the kernels
/// already in caches were stored under.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class SourceFreeCiTests
{
    private const string DebianPackage = "linux-source-6.1";
    private LocalRegistry _registry = null!;
    private string _work = null!;

    [OneTimeSetUp]
    public void PushTheSharedKernel()
    {
        var shared = BuildMetadata.Read(Path.Combine(SharedKernel.OutDir, BuildMetadata.FileName))!;
        var identity = new CacheIdentity(shared.Key, shared.IdentityHash);
        var entry = new KernelCache(KilnRun.SharedCacheDir).Find(identity, new RecordingLog())
                    ?? throw new InvalidOperationException($"The shared kernel {identity.EntryName} is not in {KilnRun.SharedCacheDir}");
        _registry = LocalRegistry.Start();
        _work = Directory.CreateTempSubdirectory("kiln-source-free-").FullName;
        var log = new RecordingLog();
        using var remote = new RemoteKernelCache(RegistryReference.Parse(_registry.Address()), log);
        Assert.That(remote.Push(entry, identity), Is.True, string.Join("\n", log.Lines));
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _registry?.Dispose();
        if (_work is not null) SourceCache.DeleteDirectory(_work);
    }

    [Test]
    public void BootTest_on_a_fresh_cache_with_a_registry_hit_unpacks_nothing()
    {
        var cache = Path.Combine(_work, "fresh-runner-cache");
        var run = KilnRun.Run(["--target=BootTest", "--kernel=6.1", "--cache-dir=" + cache, "--out=" + Path.Combine(_work, "out"),
            "--cache-registry=" + _registry.Address()]);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain("pulled from " + _registry.Address()));
        Assert.That(run.Output, Does.Contain("Source archive verified, not unpacked: the cached kernel needs no tree"));
        Assert.That(run.Output, Does.Contain($"PASS: Linux {KilnRun.Key61}"));
        Assert.That(run.Output, Does.Not.Contain("Extracting ").And.Not.Contain("Downloading "));
        foreach (var unused in new[] { "sources", "downloads", "trees", "build" })
            Assert.That(Directory.Exists(Path.Combine(cache, unused)) ? Directory.GetFileSystemEntries(Path.Combine(cache, unused)) : [], Is.Empty,
                $"{unused}/ under the fresh cache dir");
        TestContext.Progress.WriteLine($"Source-free BootTest on a fresh cache with a registry hit: {run.Duration.TotalSeconds:F1} s wall " +
                                       $"(BootTest task {BootTestTaskSeconds(run.Output)})");
    }

    [Test]
    public void Debians_identity_without_extracting_is_the_one_the_shared_kernel_was_stored_under()
    {
        var extracted = SourceProvenance.ReadFrom(TestKernel.SourceTree)!;
        Assert.That(extracted.Provider, Is.EqualTo("debian:" + DebianPackage), "the shared kernel's source");
        Assert.That(KernelVersion.TryParse(extracted.Version, out var version), Is.True, extracted.Version);

        var empty = Path.Combine(_work, "verify-only");
        var verified = new DebianPackageProvider(DebianPackage, mayInstall: false).Acquire(version, new SourceCache(empty), new RecordingLog());

        Assert.That(verified.IsUnpacked, Is.False);
        Assert.That(Directory.Exists(Path.Combine(empty, "sources")), Is.False, "nothing extracted");
        // The record an earlier run wrote into the extracted tree (and read back as the identity's source hash ever since).
        Assert.That(verified.Provenance, Is.EqualTo(extracted));
        var shared = BuildMetadata.Read(Path.Combine(SharedKernel.OutDir, BuildMetadata.FileName))!;
        Assert.That(shared.Source.Sha256, Is.EqualTo(verified.Provenance.Sha256), "the shared kernel's metadata.json");
    }

    private static string BootTestTaskSeconds(string output) =>
        System.Text.RegularExpressions.Regex.Match(output, @"^\s*BootTest\s+(\S+)\s+Succeeded", System.Text.RegularExpressions.RegexOptions.Multiline) is { Success: true } m
            ? m.Groups[1].Value : "?";
}
