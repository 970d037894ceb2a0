using Kiln.Tests.Sources;
using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Reliability;

/// <summary>
/// A mirror that sends headers and then nothing, and one whose checksum list never ends, through Setup with
/// --download-timeout=2: exit 3 naming the URL within seconds, no temporary download left, and the run against a
/// good mirror afterwards succeeds.
/// </summary>
[TestFixture]
[Category("Reliability")]
public sealed class StalledMirrorTests
{
    private const int IdleSeconds = 2;
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(30);

    private static HostRun RunSetup(FakeMirror mirror, string cache) =>
        Run([.. mirror.SetupArgs(cache), "--download-timeout=" + IdleSeconds], timeout: TimeSpan.FromMinutes(3));

    private static void AssertNoDownloadLeft(string cache) =>
        Assert.That(Scratch.Listing(Path.Combine(cache, "downloads")), Is.Empty, "a temporary or unverified download was left");

    [Test]
    public void TarballStallsAfterHalfItsBytes()
    {
        using var scratch = new Scratch("stall");
        using var mirror = new FakeMirror();
        var cache = scratch.Path_("cache");
        var half = mirror.Good[..(mirror.Good.Length / 2)];
        mirror.Server.Serve("/" + FakeMirror.Tarball, new TinyHttpServer.Response(200, half, ClaimedLength: mirror.Good.Length, StallAfterBody: true));

        var run = RunSetup(mirror, cache);

        AssertFails(run, 3, mirror.Url + FakeMirror.Tarball, $"the server sent nothing for {IdleSeconds} s", "--download-timeout");
        Assert.That(run.Duration, Is.LessThan(Quick), run.ToString());
        AssertNoDownloadLeft(cache);
        AssertRerunSucceeds(mirror, cache);
    }

    [Test]
    public void ChecksumListStallsAfterItsHeaders()
    {
        using var scratch = new Scratch("stall-sums");
        using var mirror = new FakeMirror();
        var cache = scratch.Path_("cache");
        mirror.Server.Serve("/sha256sums.asc", new TinyHttpServer.Response(200, [], ClaimedLength: 4096, StallAfterBody: true));

        var run = RunSetup(mirror, cache);

        AssertFails(run, 3, mirror.Url + "sha256sums.asc", $"the server sent nothing for {IdleSeconds} s");
        Assert.That(run.Duration, Is.LessThan(Quick), run.ToString());
        Assert.That(mirror.Server.Hits("/" + FakeMirror.Tarball), Is.Zero, "nothing is downloaded without a checksum");
        AssertRerunSucceeds(mirror, cache);
    }

    [Test]
    public void EndlessChecksumList()
    {
        using var scratch = new Scratch("endless");
        using var mirror = new FakeMirror();
        var cache = scratch.Path_("cache");
        // No Content-Length, fast and never finishing: before the cap this took 1.5 GiB of memory and 30 minutes.
        var block = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(new string('0', 64) + "  linux-0.0.0.tar.xz\n", 1000)));
        mirror.Server.Serve("/sha256sums.asc", new TinyHttpServer.Response(200, block, Endless: true));

        var run = RunSetup(mirror, cache);

        AssertFails(run, 3, mirror.Url + "sha256sums.asc", "more than 1048576 bytes");
        Assert.That(run.Duration, Is.LessThan(Quick), run.ToString());
        AssertRerunSucceeds(mirror, cache);
    }

    private static void AssertRerunSucceeds(FakeMirror mirror, string cache)
    {
        mirror.Restore();
        AssertSucceeds(RunSetup(mirror, cache));
        Assert.That(Scratch.Listing(Path.Combine(cache, "downloads")), Is.EqualTo(new[] { FakeMirror.Tarball }), "leftovers in downloads/");
    }
}
