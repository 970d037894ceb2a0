using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Sources;
using Kiln.Kernel.Versions;

namespace Kiln.Tests.Integration;

/// <summary>
/// The one kernel the integration tests share: Linux 6.1 from Debian's package, built once by the
/// real pipeline (BuildKernel) into the shared cache; later runs are cache hits.
/// </summary>
public static class SharedKernel
{
    private static readonly Lazy<(KilnRunResult Run, string OutDir)> Built = new(() =>
    {
        var outDir = Path.Combine(Path.GetTempPath(), "kiln-test-out-" + Guid.NewGuid().ToString("N")[..8]);
        var run = KilnRun.Run(new[] { "--target=BuildKernel", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir });
        return (run, outDir);
    });

    /// <summary>The out directory of the first build (bzImage, vmlinux, System.map, config, metadata.json).</summary>
    public static string OutDir
    {
        get
        {
            var (run, outDir) = Built.Value;
            if (run.ExitCode != 0) Assert.Fail("The shared kernel build failed:\n" + run);
            return outDir;
        }
    }

    public static string BzImage => Path.Combine(OutDir, "bzImage");
}

/// <summary>
/// Paths the domain-level integration tests use: an environment variable when set (to test another
/// kernel), otherwise the shared 6.1 build and its extracted Debian source tree.
/// </summary>
public static class TestKernel
{
    public static string BzImage =>
        Environment.GetEnvironmentVariable("KILN_TEST_BZIMAGE") is { Length: > 0 } path ? path : SharedKernel.BzImage;

    public static string SourceTree
    {
        get
        {
            var tree = Environment.GetEnvironmentVariable("KILN_TEST_KERNEL_SRC") is { Length: > 0 } path ? path : SharedSourceTree();
            if (!File.Exists(Path.Combine(tree, "Kconfig")))
                Assert.Fail($"No kernel source tree at {tree} (KILN_TEST_KERNEL_SRC or the shared test build).");
            return tree;
        }
    }

    private static string SharedSourceTree()
    {
        _ = SharedKernel.OutDir;
        var sources = Path.Combine(KilnRun.SharedCacheDir, "sources");
        if (Directory.Exists(sources) && Directory.GetDirectories(sources, "6.1.*-debian-*").OrderBy(d => d, StringComparer.Ordinal).LastOrDefault() is { } tree)
            return tree;
        // A cache hit extracts no source, so a cache whose kernel was already built may hold no tree: extract it as Patch would.
        var source = BuildMetadata.Read(Path.Combine(SharedKernel.OutDir, BuildMetadata.FileName))!.Source;
        if (!KernelVersion.TryParse(source.Version, out var version) || source.Provider != "debian:linux-source-6.1")
            throw new InvalidOperationException($"The shared kernel was built from {source.Provider} {source.Version}, not Debian's 6.1 package");
        return new DebianPackageProvider("linux-source-6.1", mayInstall: false)
            .Acquire(version, new SourceCache(KilnRun.SharedCacheDir), new RecordingLog()).Tree().Directory;
    }
}
