using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Sources;
using Kiln.Kernel.Versions;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Sources;

/// <summary>
/// The lazy tree: a verified source's identity is known before its tree exists, the tree is made once and only when
/// asked for, and a tree that cannot be had is still a refusal the acquirer answers with the next provider.
/// </summary>
public sealed class VerifiedSourceTests
{
    private static readonly KernelVersion V = new(6, 1, 192);

    /// <summary>A provider whose archive is "verified" at once and whose tree is a directory it writes when asked.</summary>
    private sealed class FakeProvider(string name, string sha256, SourceCache cache, string? unavailableTree = null) : ISourceProvider
    {
        public int Verified { get; private set; }
        public int Extracted { get; private set; }
        public string Name => name;

        public VerifiedSource Acquire(KernelVersion version, SourceCache _, IKilnLog log)
        {
            Verified++;
            var provenance = new SourceProvenance(name, version.ToString(), "fake://" + name, sha256);
            return VerifiedSource.Packed(version, provenance, () => cache.Unpack(name, version, log, () =>
            {
                if (unavailableTree is not null) throw new SourceUnavailableException(unavailableTree);
                Extracted++;
                var dir = Path.Combine(cache.Trees, name);
                Directory.CreateDirectory(dir);
                provenance.WriteTo(dir);
                return new SourceTree(dir, version, provenance, Reused: false);
            }));
        }
    }

    private TempDir _dir = null!;
    private SourceCache _cache = null!;
    private RecordingLog _log = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir();
        _cache = new SourceCache(_dir.Path);
        _log = new RecordingLog();
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void A_run_that_needs_no_tree_gets_the_identity_and_extracts_nothing()
    {
        var provider = new FakeProvider("a", new string('a', 64), _cache);
        VerifiedSource? judged = null;
        var source = new SourceAcquirer([provider]).Acquire(V, _cache, _log, s => { judged = s; return false; });

        Assert.That(judged, Is.SameAs(source), "the decision is made on the verified source, before any extraction");
        Assert.That(source.Provenance.Sha256, Is.EqualTo(new string('a', 64)));
        Assert.That((source.IsUnpacked, provider.Extracted), Is.EqualTo((false, 0)));
        Assert.That(Directory.Exists(_cache.Trees), Is.False, "nothing under the cache's sources directory");
    }

    [Test]
    public void The_tree_is_extracted_on_the_first_request_only()
    {
        var provider = new FakeProvider("a", new string('a', 64), _cache);
        var source = new SourceAcquirer([provider]).Acquire(V, _cache, _log, _ => false);

        var tree = source.Tree();
        Assert.That(source.Tree(), Is.SameAs(tree));
        Assert.That((source.IsUnpacked, provider.Extracted), Is.EqualTo((true, 1)));
        Assert.That(SourceProvenance.ReadFrom(tree.Directory), Is.EqualTo(source.Provenance), "the tree records the identity the run used");
    }

    [Test]
    public void A_run_that_needs_the_tree_has_it_when_the_acquirer_returns()
    {
        var provider = new FakeProvider("a", new string('a', 64), _cache);
        var source = new SourceAcquirer([provider]).Acquire(V, _cache, _log, _ => true);
        Assert.That((source.IsUnpacked, provider.Extracted), Is.EqualTo((true, 1)));
    }

    [Test]
    public void A_tree_that_cannot_be_had_falls_back_to_the_next_provider_which_is_judged_again()
    {
        var broken = new FakeProvider("mirror", new string('a', 64), _cache, unavailableTree: "http://mirror/linux-6.1.192.tar.xz: HTTP 404 NotFound");
        var next = new FakeProvider("debian", new string('b', 64), _cache);
        var judged = new List<string>();
        var source = new SourceAcquirer([broken, next]).Acquire(V, _cache, _log, s => { judged.Add(s.Provenance.Sha256[..1]); return true; });

        Assert.That(judged, Is.EqualTo(new[] { "a", "b" }), "each provider's identity is looked up on its own");
        Assert.That(source.Provenance.Provider, Is.EqualTo("debian"));
        Assert.That(source.IsUnpacked, Is.True);
    }

    [Test]
    public void A_tree_asked_for_later_that_cannot_be_had_is_exit_3_naming_the_provider_and_why()
    {
        var broken = new FakeProvider("kernel.org", new string('a', 64), _cache, unavailableTree: "http://mirror/linux-6.1.192.tar.xz: HTTP 404 NotFound");
        var source = new SourceAcquirer([broken]).Acquire(V, _cache, _log, _ => false);

        var e = Assert.Throws<KilnException>(() => source.Tree())!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.StartWith("Could not get the source of Linux 6.1.192. Tried:\n  - kernel.org: http://mirror/linux-6.1.192.tar.xz: HTTP 404"));
        Assert.That(e.Message, Does.Contain("--source=PATH"));
    }

    [Test]
    public void An_unpacked_tree_is_served_as_it_is()
    {
        var provenance = new SourceProvenance("local:/src", "6.1.192", "/src", "");
        var tree = new SourceTree("/src", V, provenance, Reused: true);
        var source = VerifiedSource.Unpacked(tree);
        Assert.That((source.IsUnpacked, source.Tree(), source.Provenance), Is.EqualTo((true, tree, provenance)));
    }

    [Test]
    public void Extraction_holds_the_source_lock_and_a_tree_another_run_finished_meanwhile_is_reused()
    {
        var lockPath = KilnPaths.SourceLock(_cache.Root, V.ToString());
        var held = false;
        var first = _cache.Unpack("t", V, _log, () =>
        {
            held = Assert.Throws<KilnException>(() => CacheLock.Acquire(lockPath, new RecordingLog(), TimeSpan.FromMilliseconds(100))) is not null;
            var dir = Path.Combine(_cache.Trees, "t");
            Directory.CreateDirectory(dir);
            new SourceProvenance("p", "6.1.192", "o", new string('c', 64)).WriteTo(dir);
            return new SourceTree(dir, V, SourceProvenance.ReadFrom(dir)!, Reused: false);
        });
        Assert.That(held, Is.True, "another run could extract the same tree at the same time");

        var second = _cache.Unpack("t", V, _log, () => throw new AssertionException("the finished tree was extracted again"));
        Assert.That((second.Directory, second.Reused, second.Provenance), Is.EqualTo((first.Directory, true, first.Provenance)));
        Assert.That(_log.Lines, Has.Some.EqualTo("info: Reusing verified source " + first.Directory));
    }
}
