using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.IO;
using Kiln.Kernel.Reproduction;
using Kiln.Kernel.Sources;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Reproduction;

/// <summary>
/// The Reproduce stage around a stand-in rebuild: where the rebuild's tree and build directory are, that they are a real
/// copy elsewhere and removed afterwards (and a killed run's leftover by the next run), and the report it writes.
/// </summary>
public class ReproducerTests
{
    private TempDir _dir = null!;
    private KilnPaths _paths = null!;
    private readonly RecordingLog _log = new();

    [SetUp]
    public void SetUp()
    {
        Prerequisite.Require(Prerequisites.OnPath("faketime"), "faketime is not installed (apt-get install faketime)");
        _dir = new TempDir("kiln-reproduce-");
        _paths = new KilnPaths(_dir["cache"], _dir["out"]);
    }

    [TearDown]
    public void TearDown() => _dir?.Dispose();

    private CachedKernel Entry(params (string Name, string Content)[] files)
    {
        var dir = _dir["cache/kernels/6.1.192-2-abc"];
        Directory.CreateDirectory(dir);
        var hashes = new Dictionary<string, string>();
        foreach (var (name, content) in files)
        {
            File.WriteAllText(Path.Combine(dir, name), content);
            hashes[name] = SourceCache.FileSha256(Path.Combine(dir, name));
        }
        var metadata = new BuildMetadata("6.1.192-2", new string('1', 64), "r", "6.1.192", "6.1.192-2", "x86_64", "", "tinyconfig",
            new SourceProvenance("debian", "6.1.192", "linux-source-6.1", new string('2', 64)), new Dictionary<string, string>(),
            new Dictionary<string, double>(), hashes, [], []);
        return new CachedKernel(dir, metadata);
    }

    [Test]
    public void The_rebuild_gets_a_real_copy_elsewhere_and_an_empty_build_directory_and_both_are_removed()
    {
        var tree = _dir.File("cache/trees/linux-6.1.192-abc/Makefile", "VERSION = 6\n");
        File.SetLastWriteTimeUtc(tree, new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        var leftover = _dir.File("cache/reproduce/deadbeef/o/vmlinux.o", "from a killed run");
        var entry = Entry(("bzImage", "image"), ("config", "CONFIG_X=y\n"));
        RebuildPlace? seen = null;

        var report = new Reproducer(_log).Run(entry, Path.GetDirectoryName(tree)!, _paths, place =>
        {
            seen = place;
            var copy = Path.Combine(place.SourceDir, "Makefile");
            Assert.That(File.ReadAllText(copy), Is.EqualTo("VERSION = 6\n"));
            Assert.That(File.GetLastWriteTimeUtc(copy), Is.EqualTo(File.GetLastWriteTimeUtc(tree)), "the build's timestamp is the Makefile's");
            Assert.That(new FileInfo(copy).LinkTarget, Is.Null);
            Assert.That(Directory.EnumerateFileSystemEntries(place.BuildDir), Is.Empty);
            Assert.That(File.Exists(leftover), Is.False, "a killed run's rebuild is removed first");
            File.WriteAllText(Path.Combine(place.BuildDir, "bzImage"), "image");
            File.WriteAllText(Path.Combine(place.BuildDir, ".config"), "CONFIG_X=y\n");
            return new Dictionary<string, string> { ["bzImage"] = Path.Combine(place.BuildDir, "bzImage"), ["config"] = Path.Combine(place.BuildDir, ".config") };
        });

        Assert.That(report.Reproducible, Is.True);
        Assert.That(seen!.SourceDir, Does.StartWith(_paths.ReproduceWork + "/").And.Not.Contain("/trees/"));
        Assert.That(Path.GetFileName(seen.SourceDir), Is.Not.EqualTo("linux-6.1.192-abc"));
        Assert.That(seen.Disguise.Uid, Is.Not.EqualTo((int)CacheTrust.CurrentUser));
        Assert.That(Directory.EnumerateFileSystemEntries(_paths.ReproduceWork), Is.Empty, "the rebuild's tree and build directory are removed");
        Assert.That(File.ReadAllText(report.TextPath), Does.StartWith("REPRODUCIBLE: Linux 6.1.192-2: all 2 artifacts"));
        Assert.That(File.ReadAllText(report.JsonPath), Does.Contain("\"reproducible\": true").And.Contain("\"ccache\": false"));
    }

    [Test]
    public void A_difference_is_reported_by_file_and_the_scratch_is_removed_when_the_rebuild_fails()
    {
        var tree = Path.GetDirectoryName(_dir.File("cache/trees/t/Makefile", "VERSION = 6\n"))!;
        var entry = Entry(("System.map", "a T x\n"), ("vmlinux", "not elf"));
        var report = new Reproducer(_log).Run(entry, tree, _paths, place =>
        {
            File.WriteAllText(Path.Combine(place.BuildDir, "System.map"), "b T x\n");
            return new Dictionary<string, string> { ["System.map"] = Path.Combine(place.BuildDir, "System.map") };
        });
        Assert.That(report.Reproducible, Is.False);
        Assert.That(report.Differing.Select(f => f.Name), Is.EqualTo(new[] { "System.map", "vmlinux" }));
        Assert.That(File.ReadAllText(report.TextPath), Does.StartWith("NOT REPRODUCIBLE: Linux 6.1.192-2: System.map, vmlinux differ")
            .And.Contain("line 1 differs").And.Contain("not made by the rebuild"));

        Assert.Throws<KilnException>(() => new Reproducer(_log).Run(entry, tree, _paths, _ => throw KilnException.KernelFailed("make failed")));
        Assert.That(Directory.EnumerateFileSystemEntries(_paths.ReproduceWork), Is.Empty);
    }
}
