using System.Formats.Tar;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Sources;
using Kiln.Tests.Host;
using NUnit.Framework;
using static Kiln.Tests.Sources.Tarballs;

namespace Kiln.Tests.Sources;

public class SafeTarExtractorTests
{
    private TempDir _dir = null!;
    private string Dest => _dir["work/dest"];

    [SetUp] public void SetUp() => _dir = new TempDir();
    [TearDown] public void TearDown() => _dir.Dispose();

    private string Tar(params Entry[] entries)
    {
        var path = _dir["archive.tar"];
        WriteTar(path, entries);
        return path;
    }

    private void AssertRefused(string archive, string entryName)
    {
        var e = Assert.Throws<KilnException>(() => SafeTarExtractor.Extract(archive, Dest, new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("refusing").And.Contain(entryName));
        Assert.That(_dir.Listing("work").Where(p => p != "dest" && !p.StartsWith("dest" + Path.DirectorySeparatorChar)), Is.Empty,
            "nothing written outside the destination");
        Assert.That(File.Exists(_dir["evil"]), Is.False);
        Assert.That(File.Exists("/tmp/kiln-evil"), Is.False);
    }

    [Test]
    public void ExtractsAndStripsTheLeadingDirectory()
    {
        var count = SafeTarExtractor.Extract(Tar(KernelTree("6.1.1", "linux-6.1.1").ToArray()), Dest, new RecordingLog());
        Assert.That(count, Is.EqualTo(6));
        Assert.That(File.ReadAllText(Path.Combine(Dest, "init", "Kconfig")), Does.Contain("config TEST"));
        Assert.That(File.Exists(Path.Combine(Dest, "Makefile")));
    }

    [Test]
    public void ExtractsGzip()
    {
        var tar = Tar(KernelTree("6.1.1", "linux-6.1.1").ToArray());
        var gz = _dir["archive.tar.gz"];
        using (var input = File.OpenRead(tar))
        using (var output = new System.IO.Compression.GZipStream(File.Create(gz), System.IO.Compression.CompressionLevel.Fastest))
            input.CopyTo(output);
        SafeTarExtractor.Extract(gz, Dest, new RecordingLog());
        Assert.That(File.Exists(Path.Combine(Dest, "init", "main.c")));
    }

    [Test]
    public void RefusesDotDotThatEscapesAfterStripping() =>
        AssertRefused(Tar(Dir("linux/"), Reg("linux/../../evil", "x")), "linux/../../evil");

    [Test]
    public void RefusesDotDotAsTheFirstComponent() =>
        AssertRefused(Tar(Reg("../evil", "x")), "../evil");

    [Test]
    public void RefusesDotDotInTheMiddle() =>
        AssertRefused(Tar(Dir("linux/"), Reg("linux/a/../../../evil", "x")), "linux/a/../../../evil");

    [Test]
    public void RefusesAbsolutePaths() =>
        AssertRefused(Tar(Reg("/tmp/kiln-evil", "x")), "/tmp/kiln-evil");

    [Test]
    public void RefusesSymlinkPointingOutside() =>
        AssertRefused(Tar(Dir("linux/"), Symlink("linux/out", "../../../evil")), "linux/out");

    [Test]
    public void RefusesAbsoluteSymlink() =>
        AssertRefused(Tar(Dir("linux/"), Symlink("linux/passwd", "/etc/passwd")), "linux/passwd");

    /// <summary>
    /// Lexically "y/.." is inside, but y is a link to ".", so on disk x resolves to the destination's parent;
    /// a file written through x lands outside. The extractor must not write through links.
    /// </summary>
    [Test]
    public void RefusesWritingThroughASymlinkThatResolvesOutside()
    {
        var archive = Tar(Dir("linux/"), Symlink("linux/y", "."), Symlink("linux/x", "y/.."), Reg("linux/x/evil", "x"));
        try { SafeTarExtractor.Extract(archive, Dest, new RecordingLog()); } catch (KilnException) { }
        Assert.That(File.Exists(_dir["work/evil"]), Is.False, "written outside the destination through a symlink");
        var e = Assert.Throws<KilnException>(() => SafeTarExtractor.Extract(archive, _dir["work/dest2"], new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
    }

    [Test]
    public void RefusesHardLinkToAFileOutside()
    {
        var path = _dir["archive.tar"];
        using (var stream = File.Create(path))
        using (var writer = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: false))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "linux/"));
            writer.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "linux/passwd") { LinkName = "linux/../../etc/passwd" });
        }
        AssertRefused(path, "linux/../../etc/passwd");
    }

    [Test]
    public void RefusesAFileWrittenOverALinkThatResolvesOutside()
    {
        var archive = Tar(Dir("linux/"), Symlink("linux/y", "."), Symlink("linux/l", "y/../evil"), Reg("linux/l", "x"));
        try { SafeTarExtractor.Extract(archive, Dest, new RecordingLog()); } catch (KilnException) { }
        Assert.That(File.Exists(_dir["work/evil"]), Is.False, "written outside the destination through a symlink");
    }

    /// <summary>Lexically "d/b/.." is "d", but d/b is a link to "..": on disk a resolves to the destination's parent.</summary>
    [Test]
    public void RefusesATwoLinkChainThatLeavesTheTree() =>
        AssertRefused(Tar(Dir("linux/"), Dir("linux/d/"), Symlink("linux/d/b", ".."), Symlink("linux/a", "d/b/..")), "linux/a");

    /// <summary>The same chain with the link made first: it looked inside when made, and is checked again at the end.</summary>
    [Test]
    public void RefusesATwoLinkChainWhoseMiddleLinkComesLater() =>
        AssertRefused(Tar(Dir("linux/"), Symlink("linux/a", "d/b/.."), Dir("linux/d/"), Symlink("linux/d/b", "..")), "linux/a");

    [Test]
    public void AllowsALinkChainThatStaysInside()
    {
        SafeTarExtractor.Extract(Tar(Dir("linux/"), Dir("linux/d/"), Reg("linux/d/f", "x"), Symlink("linux/d/b", ".."), Symlink("linux/a", "d/b/d/f")), Dest, new RecordingLog());
        Assert.That(File.ReadAllText(Path.Combine(Dest, "a")), Is.EqualTo("x"));
    }

    [Test]
    public void RefusesAFileWhereADirectoryIs() =>
        AssertRefused(Tar(Dir("linux/"), Dir("linux/x/"), Reg("linux/x", "x")), "linux/x");

    [Test]
    public void RefusesAHardLinkToADirectory() =>
        AssertRefused(Tar(Dir("linux/"), Dir("linux/d/"), new Entry("linux/h", TarEntryType.HardLink, LinkName: "linux/d")), "linux/h");

    [Test]
    public void RefusesANameLongerThanTheFileSystemTakes() =>
        AssertRefused(Tar(Dir("linux/"), Reg("linux/" + new string('a', 300), "x")), "a name of 300 bytes");

    [Test]
    public void AllowsSymlinksInsideTheTree()
    {
        SafeTarExtractor.Extract(Tar(Dir("linux/"), Dir("linux/a/"), Reg("linux/a/f", "x"), Symlink("linux/b/l", "../a/f")), Dest, new RecordingLog());
        Assert.That(File.ReadAllText(Path.Combine(Dest, "b", "l")), Is.EqualTo("x"));
    }

    [TestCase("archive.tar.xz")]
    [TestCase("archive.tar.gz")]
    public void CorruptArchiveIsAClearError(string name)
    {
        var path = _dir[name];
        File.WriteAllBytes(path, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray());
        var e = Assert.Throws<KilnException>(() => SafeTarExtractor.Extract(path, Dest, new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain(path).And.Contain("corrupt or truncated"));
    }

    [Test]
    public void TruncatedXzIsAClearError()
    {
        var xz = TarXz(KernelTree("6.1.1", "linux-6.1.1", new[] { Reg("linux-6.1.1/big", new string('k', 300_000)) }));
        var path = _dir["archive.tar.xz"];
        File.WriteAllBytes(path, xz[..(xz.Length * 2 / 3)]);
        var e = Assert.Throws<KilnException>(() => SafeTarExtractor.Extract(path, Dest, new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("corrupt or truncated"));
    }

    /// <summary>
    /// An entry refused early in a large .tar.xz: xz still has megabytes to write into the pipe nobody reads.
    /// The extractor must end xz rather than wait for it forever.
    /// </summary>
    [Test, CancelAfter(30_000)]
    public void RefusalEarlyInALargeXzArchiveDoesNotHang()
    {
        var big = new string('z', 4 << 20);
        var xz = TarXz(new[] { Dir("linux/"), Reg("linux/../../evil", "x"), Reg("linux/big", big) });
        var path = _dir["archive.tar.xz"];
        File.WriteAllBytes(path, xz);
        var task = Task.Run(() => SafeTarExtractor.Extract(path, Dest, new RecordingLog()));
        Assert.That(Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(20))).Result, Is.SameAs(task), "Extract hung waiting for xz");
        Assert.That(task.Exception?.GetBaseException(), Is.InstanceOf<KilnException>());
    }
}

public class CacheLockTests
{
    [Test, CancelAfter(30_000)]
    public void SecondAcquireWaitsUntilTheFirstIsDisposed()
    {
        using var dir = new TempDir();
        var path = dir["locks/source.lock"];
        var log = new RecordingLog();
        var first = CacheLock.Acquire(path, log);
        var acquired = new ManualResetEventSlim();
        var second = Task.Run(() =>
        {
            using var l = CacheLock.Acquire(path, log, TimeSpan.FromSeconds(20));
            acquired.Set();
        });
        Assert.That(acquired.Wait(TimeSpan.FromMilliseconds(1200)), Is.False, "second Acquire must wait");
        Assert.That(log.Lines, Has.Some.Contains("Waiting for another Kiln run"));
        first.Dispose();
        Assert.That(acquired.Wait(TimeSpan.FromSeconds(10)), Is.True, "second Acquire proceeds after Dispose");
        second.Wait();
    }

    [Test]
    public void GivesUpAfterTheTimeoutWithExit3()
    {
        using var dir = new TempDir();
        var path = dir["a.lock"];
        using var first = CacheLock.Acquire(path, new RecordingLog());
        var e = Assert.Throws<KilnException>(() => CacheLock.Acquire(path, new RecordingLog(), TimeSpan.FromMilliseconds(600)))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain(path));
    }

    [Test]
    public void ReacquiresAfterDispose()
    {
        using var dir = new TempDir();
        var path = dir["a.lock"];
        var log = new RecordingLog();
        CacheLock.Acquire(path, log).Dispose();

        CacheLock? again = null;
        Assert.That(() => again = CacheLock.Acquire(path, log, TimeSpan.FromMilliseconds(100)), Throws.Nothing,
            "Dispose must release the lock, so the next Acquire gets it within 100 ms");
        using (again)
        {
            Assert.That(log.Lines, Has.None.Contains("Waiting for another Kiln run"), "a released lock is taken at once, without waiting");
            // The lock taken again is a real lock: it still keeps everyone else out until it is disposed.
            var e = Assert.Throws<KilnException>(() => CacheLock.Acquire(path, new RecordingLog(), TimeSpan.FromMilliseconds(100)))!;
            Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        }
    }
}
