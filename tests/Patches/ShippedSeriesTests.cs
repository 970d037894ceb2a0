using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Patches;
using NUnit.Framework;

namespace Kiln.Tests.Patches;

/// <summary>The series in patches/ as shipped: lint clean, and applicable to a real kernel tree.</summary>
public class ShippedSeriesTests
{

    private static PatchSeries Series61() => PatchSeries.ForKernel(Path.Combine(PatchFixtures.RepoRoot(), "patches"), "6.1");

    [Test]
    public void EveryShippedSeriesLintsClean()
    {
        var series = Directory.GetDirectories(Path.Combine(PatchFixtures.RepoRoot(), "patches")).Select(PatchSeries.Load).ToList();

        Assert.That(series, Is.Not.Empty);
        Assert.That(series.SelectMany(PatchLint.Check).Select(p => p.ToString()), Is.Empty);
    }

    [Test]
    public void Series61PrintsTheKilnBootLine()
    {
        var series = Series61();

        Assert.That(series.Patches, Is.Not.Empty);
        Assert.That(series.BootExpectations, Does.Contain("Kiln guest kernel: patch series 6.1.x applied"));
    }

    [Test, Category("Integration")]
    public void Series61AppliesToTheRealTreeWithoutTouchingIt()
    {
        var source = Kiln.Tests.Integration.TestKernel.SourceTree;
        if (!File.Exists(Path.Combine(source, "init", "main.c")))
            Assert.Fail($"No 6.1 kernel tree at {source} (KILN_TEST_KERNEL_SRC or the shared test build).");

        var pristineMain = File.ReadAllText(Path.Combine(source, "init", "main.c"));
        // Next to the source when possible so cp -al can hard-link; the applier falls back to a copy otherwise.
        var work = Path.Combine(Path.GetTempPath(), "kiln-patches-it-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var log = new RecordingLog();
            var tree = new PatchApplier(log).Apply(Series61(), source, work, "linux-6.1");

            Assert.That(File.ReadAllText(Path.Combine(tree.Path, "init", "main.c")),
                Does.Contain("pr_notice(\"Kiln guest kernel: patch series 6.1.x applied\\n\");"));
            Assert.That(File.ReadAllText(Path.Combine(source, "init", "main.c")), Is.EqualTo(pristineMain));
            Assert.That(log.Lines, Has.None.StartsWith("warning:"), string.Join("\n", log.Lines));
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }
}
