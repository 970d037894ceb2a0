using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Domain;

/// <summary>The ssh-style ownership and mode check of what Kiln trusts in its cache.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class CacheTrustTests
{
    private static readonly uint Me = CacheTrust.CurrentUser;

    [TestCase(0b111_101_101, null)]
    [TestCase(0b111_000_000, null)]
    [TestCase(0b111_101_111, "is writable by others")]
    [TestCase(0b111_111_101, "is writable by its group")]
    [TestCase(0b111_111_111, "is writable by group and others")]
    [TestCase(0b111_111_111 | 0b1_000_000_000, "is writable by group and others")] // the sticky bit does not make a cache safe
    public void A_directory_is_judged_by_its_mode(int mode, string? problem)
    {
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)mode);
        Assert.That(CacheTrust.Problem(dir.Path, Me), Is.EqualTo(problem));
    }

    internal static BuildMetadata MetadataFor(Kiln.Kernel.Identity.CacheIdentity identity, IReadOnlyDictionary<string, string> files) =>
        new(identity.Key, identity.Hash, new string('2', 64), "6.1.192", identity.Key, "x86_64", "", "tinyconfig",
            new Kiln.Kernel.Sources.SourceProvenance("kernel.org", "6.1.192", "https://cdn.kernel.org/", new string('3', 64)),
            new Dictionary<string, string>(), new Dictionary<string, double>(), files, Array.Empty<string>(), Array.Empty<string>());

    [Test]
    public void A_file_writable_by_others_is_refused_too()
    {
        using var dir = new TempDir();
        var file = dir.File("metadata.json", "{}");
        File.SetUnixFileMode(file, (UnixFileMode)0b110_110_110);
        Assert.That(CacheTrust.Problem(file, Me), Is.EqualTo("is writable by group and others"));
    }

    [Test]
    public void Owned_by_another_user_is_refused_but_root_is_trusted()
    {
        using var dir = new TempDir();
        Assert.That(CacheTrust.Problem(dir.Path, Me), Is.Null);
        // As root: the directory is handed to nobody (65534); as anyone else, judged for another uid.
        if (Me == 0) new Kiln.Kernel.Processes.Command("chown", "65534", dir.Path).Run(new RecordingLog());
        var (owner, user) = Me == 0 ? (65534u, 0u) : (Me, Me + 1);
        Assert.That(CacheTrust.Problem(dir.Path, user), Is.EqualTo($"is owned by uid {owner}, not by you (uid {user})"));
        Assert.That(CacheTrust.Problem("/", 4242), Is.Null, "root's files are trusted, as ssh trusts them");
    }

    [Test]
    public void A_missing_path_has_no_problem()
    {
        using var dir = new TempDir();
        Assert.That(CacheTrust.Problem(dir["absent/x"], Me), Is.Null);
    }

    [Test]
    public void Require_is_bad_input_naming_the_path_and_the_fix()
    {
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_111_111);
        var e = Assert.Throws<KilnException>(() => CacheTrust.Require(dir.Path, "--cache-dir"))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.StartWith($"--cache-dir {dir.Path} is writable by group and others").And.Contain($"chmod go-w {dir.Path}"));
    }

    [Test]
    public void CreatePrivate_makes_a_directory_only_its_user_can_enter()
    {
        using var dir = new TempDir();
        CacheTrust.CreatePrivate(dir["cache"]);
        Assert.That(File.GetUnixFileMode(dir["cache"]), Is.EqualTo(CacheTrust.Private));
        File.SetUnixFileMode(dir["cache"], (UnixFileMode)0b111_101_101);
        CacheTrust.CreatePrivate(dir["cache"]);
        Assert.That(File.GetUnixFileMode(dir["cache"]), Is.EqualTo((UnixFileMode)0b111_101_101), "an existing directory keeps the mode its owner gave it");
    }

    [Test]
    public void A_stored_entry_is_private_even_under_a_permissive_umask_and_a_group_writable_entry_is_refused()
    {
        using var dir = new TempDir();
        var artifact = dir.File("build/bzImage", "kernel");
        File.SetUnixFileMode(artifact, (UnixFileMode)0b110_110_100); // what make leaves under umask 002
        var cache = new KernelCache(dir["cache"]);
        var identity = new Kiln.Kernel.Identity.CacheIdentity("6.1.192-1", new string('1', 64));
        var stored = cache.Store(identity, new Dictionary<string, string> { ["bzImage"] = artifact }, hashes => MetadataFor(identity, hashes));

        Assert.That(File.GetUnixFileMode(stored.Directory) & (UnixFileMode)0b000_111_111, Is.EqualTo((UnixFileMode)0));
        Assert.That(File.GetUnixFileMode(stored.File("bzImage")) & (UnixFileMode)0b000_010_010, Is.EqualTo((UnixFileMode)0));
        Assert.That(cache.Find(identity, new RecordingLog()), Is.Not.Null, "Kiln trusts what it stored");

        File.SetUnixFileMode(stored.Directory, (UnixFileMode)0b111_111_101);
        var e = Assert.Throws<KilnException>(() => cache.Find(identity, new RecordingLog()))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain($"The kernel cache entry {stored.Directory} is writable by its group").And.Contain("chmod go-w"));
        Assert.That(Directory.Exists(stored.Directory), Is.True, "refused, not deleted: its owner decides");

        File.SetUnixFileMode(stored.Directory, CacheTrust.Private);
        File.SetUnixFileMode(stored.File("metadata.json"), (UnixFileMode)0b110_100_110);
        e = Assert.Throws<KilnException>(() => cache.Find(identity, new RecordingLog()))!;
        Assert.That(e.Message, Does.Contain("The kernel cache file " + stored.File("metadata.json") + " is writable by others"));
    }
}
