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

    public static KilnRunResult FirstBuild => Built.Value.Run;

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
