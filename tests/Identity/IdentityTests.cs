using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.Versions;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Identity;

public class CacheKeyTests
{
    private static readonly KernelVersion V = new(6, 1, 192);

    [Test]
    public void KeyIsVersionDashCounter() => Assert.That(CacheIdentity.KeyFor(V, 1), Is.EqualTo("6.1.192-1"));

    [Test]
    public void VariantIsASuffix() => Assert.That(CacheIdentity.KeyFor(V, 83, "dbg"), Is.EqualTo("6.1.192-83-dbg"));

    [Test]
    public void IdentityCombinesKeyAndHash()
    {
        using var repo = new TempDir();
        repo.File("configs/fragments/common/a.conf", "CONFIG_A=y\n");
        var recipe = BuildRecipe.Collect(repo.Path, V, "x86_64", "dbg");
        var id = CacheIdentity.For(recipe, 2, new string('a', 64), "gcc 12.2.0", "tinyconfig");
        Assert.That(id.Key, Is.EqualTo("6.1.192-2-dbg"));
        Assert.That(id.Hash, Does.Match("^[0-9a-f]{64}$"));
        Assert.That(id.EntryName, Is.EqualTo("6.1.192-2-dbg-" + id.Hash[..12]));

        // Everything that changes the binary changes the hash.
        Assert.That(CacheIdentity.For(recipe, 2, new string('b', 64), "gcc 12.2.0", "tinyconfig").Hash, Is.Not.EqualTo(id.Hash));
        Assert.That(CacheIdentity.For(recipe, 2, new string('a', 64), "gcc 13.1.0", "tinyconfig").Hash, Is.Not.EqualTo(id.Hash));
        Assert.That(CacheIdentity.For(recipe, 3, new string('a', 64), "gcc 12.2.0", "tinyconfig").Hash, Is.Not.EqualTo(id.Hash));
        Assert.That(CacheIdentity.For(recipe, 2, new string('a', 64), "gcc 12.2.0", "defconfig").Hash, Is.Not.EqualTo(id.Hash));
        Assert.That(CacheIdentity.For(recipe, 2, new string('a', 64), "gcc 12.2.0", "tinyconfig"), Is.EqualTo(id), "deterministic");
    }
}

public class BuildRecipeTests
{
    private static readonly KernelVersion V = new(6, 1, 192);
    private TempDir _repo = null!;

    [SetUp]
    public void SetUp()
    {
        _repo = new TempDir();
        _repo.File("patches/6.1.x/0001-fix.patch", "From 1\n");
        _repo.File("patches/6.6.x/0001-other.patch", "From 2\n");
        _repo.File("configs/fragments/common/base.conf", "CONFIG_A=y\n");
        _repo.File("configs/fragments/x86_64/x86.conf", "CONFIG_X86=y\n");
        _repo.File("configs/fragments/arm64/arm.conf", "CONFIG_ARM=y\n");
        _repo.File("configs/fragments/debug/debug.conf", "CONFIG_DEBUG=y\n");
        _repo.File("configs/top.conf", "CONFIG_TOP=y\n");
        _repo.File("README.md", "readme\n");
        _repo.File("configs/fragments/common/notes.txt", "not a fragment\n");
    }

    [TearDown] public void TearDown() => _repo.Dispose();

    private string Hash(string arch = "x86_64", string variant = "", KernelVersion? version = null) =>
        BuildRecipe.Collect(_repo.Path, version ?? V, arch, variant).Hash;

    [Test]
    public void CollectsTheSeriesPatchesAndTheArchsFragmentsInOrder()
    {
        var recipe = BuildRecipe.Collect(_repo.Path, V, "x86_64", "");
        Assert.That(recipe.Files.Select(f => f.Path), Is.EqualTo(new[]
        {
            "configs/fragments/common/base.conf",
            "configs/fragments/x86_64/x86.conf",
            "configs/top.conf",
            "patches/6.1.x/0001-fix.patch",
        }));
        Assert.That(recipe.LockName, Is.EqualTo("6.1/x86_64"));
        Assert.That(BuildRecipe.Collect(_repo.Path, V, "arm64", "dbg").Files.Select(f => f.Path),
            Does.Contain("configs/fragments/debug/debug.conf").And.Contain("configs/fragments/arm64/arm.conf")
                .And.Not.Contain("configs/fragments/x86_64/x86.conf"));
        Assert.That(BuildRecipe.Collect(_repo.Path, V, "arm64", "dbg").LockName, Is.EqualTo("6.1/arm64/dbg"));
    }

    [Test]
    public void HashIsStable() => Assert.That(Hash(), Is.EqualTo(Hash()));

    [TestCase("patches/6.1.x/0001-fix.patch")]
    [TestCase("configs/fragments/common/base.conf")]
    [TestCase("configs/fragments/x86_64/x86.conf")]
    [TestCase("configs/top.conf")]
    public void ChangingAnInputChangesTheHash(string file)
    {
        var before = Hash();
        File.AppendAllText(_repo[file], "# changed\n");
        Assert.That(Hash(), Is.Not.EqualTo(before));
    }

    [Test]
    public void AddingAPatchChangesTheHash()
    {
        var before = Hash();
        _repo.File("patches/6.1.x/0002-more.patch", "From 3\n");
        Assert.That(Hash(), Is.Not.EqualTo(before));
    }

    [Test]
    public void RenamingAPatchChangesTheHash()
    {
        var before = Hash();
        File.Move(_repo["patches/6.1.x/0001-fix.patch"], _repo["patches/6.1.x/0009-fix.patch"]);
        Assert.That(Hash(), Is.Not.EqualTo(before), "patch order is part of the recipe");
    }

    [TestCase("README.md")]
    [TestCase("configs/fragments/arm64/arm.conf")]
    [TestCase("configs/fragments/debug/debug.conf")]
    [TestCase("patches/6.6.x/0001-other.patch")]
    [TestCase("configs/fragments/common/notes.txt")]
    public void ChangingAnUnrelatedFileKeepsTheX86Hash(string file)
    {
        var before = Hash();
        File.AppendAllText(_repo[file], "# changed\n");
        Assert.That(Hash(), Is.EqualTo(before));
    }

    [Test]
    public void Arm64FragmentChangesArm64ButNotX86()
    {
        var (x86, arm) = (Hash("x86_64"), Hash("arm64"));
        Assert.That(arm, Is.Not.EqualTo(x86));
        File.AppendAllText(_repo["configs/fragments/arm64/arm.conf"], "CONFIG_B=y\n");
        Assert.That(Hash("x86_64"), Is.EqualTo(x86));
        Assert.That(Hash("arm64"), Is.Not.EqualTo(arm));
    }

    [Test]
    public void DebugFragmentChangesOnlyTheDbgVariant()
    {
        var (plain, dbg) = (Hash(), Hash(variant: "dbg"));
        Assert.That(dbg, Is.Not.EqualTo(plain));
        File.AppendAllText(_repo["configs/fragments/debug/debug.conf"], "CONFIG_B=y\n");
        Assert.That(Hash(), Is.EqualTo(plain));
        Assert.That(Hash(variant: "dbg"), Is.Not.EqualTo(dbg));
    }

    [Test]
    public void PinnedReleaseIsPartOfTheHash() =>
        Assert.That(Hash(version: new KernelVersion(6, 1, 150)), Is.Not.EqualTo(Hash()));

    [Test]
    public void RepositoryRecipeCoversItsFragments()
    {
        var recipe = BuildRecipe.Collect(Repo.Root, V, "x86_64", "");
        Assert.That(recipe.Files.Select(f => f.Path), Has.Some.StartsWith("configs/fragments/common/"));
        Assert.That(recipe.Files.Select(f => f.Path), Has.None.StartsWith("configs/fragments/arm64/"));
    }
}

public class LockFileTests
{
    private static readonly KernelVersion V = new(6, 1, 192);
    private TempDir _repo = null!;
    private string LockPath => _repo["kiln.lock"];

    [SetUp]
    public void SetUp()
    {
        _repo = new TempDir();
        _repo.File("configs/fragments/common/base.conf", "CONFIG_A=y\n");
        _repo.File("patches/6.1.x/0001-fix.patch", "From 1\n");
    }

    [TearDown] public void TearDown() => _repo.Dispose();

    private BuildRecipe Recipe(string variant = "") => BuildRecipe.Collect(_repo.Path, V, "x86_64", variant);

    private void Record(int counter)
    {
        var lockFile = LockFile.Load(LockPath);
        lockFile.Record(Recipe(), counter);
        lockFile.Save();
    }

    [Test]
    public void MissingLockIsNotRecorded()
    {
        var check = LockFile.Load(LockPath).Check(Recipe(), 1);
        Assert.That(check.Status, Is.EqualTo(LockStatus.NotRecorded));
        Assert.That(File.Exists(LockPath), Is.False, "Load does not create the file");
    }

    [Test]
    public void RecordedRecipeIsCurrentAfterReload()
    {
        Record(1);
        var check = LockFile.Load(LockPath).Check(Recipe(), 1);
        Assert.That(check.Status, Is.EqualTo(LockStatus.Current));
        Assert.That(check.Changes, Is.Empty);
    }

    [Test]
    public void OtherVariantIsNotRecorded()
    {
        Record(1);
        Assert.That(LockFile.Load(LockPath).Check(Recipe("dbg"), 1).Status, Is.EqualTo(LockStatus.NotRecorded));
    }

    [Test]
    public void ChangeWithoutBumpListsTheChangedFile()
    {
        Record(1);
        File.AppendAllText(_repo["configs/fragments/common/base.conf"], "CONFIG_B=y\n");
        _repo.File("patches/6.1.x/0002-new.patch", "From 2\n");
        File.Delete(_repo["patches/6.1.x/0001-fix.patch"]);
        var check = LockFile.Load(LockPath).Check(Recipe(), 1);
        Assert.That(check.Status, Is.EqualTo(LockStatus.ChangedWithoutBump));
        Assert.That(check.Changes, Is.EquivalentTo(new[]
        {
            "changed configs/fragments/common/base.conf",
            "added patches/6.1.x/0002-new.patch",
            "removed patches/6.1.x/0001-fix.patch",
        }));
    }

    [Test]
    public void ChangedPinWithoutBumpNamesTheVersions()
    {
        Record(1);
        var check = LockFile.Load(LockPath).Check(BuildRecipe.Collect(_repo.Path, new KernelVersion(6, 1, 193), "x86_64", ""), 1);
        Assert.That(check.Status, Is.EqualTo(LockStatus.ChangedWithoutBump));
        Assert.That(check.Changes, Is.EqualTo(new[] { "version 6.1.192 -> 6.1.193" }));
    }

    [Test]
    public void BumpedCounterIsCounterBumped()
    {
        Record(1);
        Assert.That(LockFile.Load(LockPath).Check(Recipe(), 2).Status, Is.EqualTo(LockStatus.CounterBumped));
        File.AppendAllText(_repo["configs/fragments/common/base.conf"], "CONFIG_B=y\n");
        var check = LockFile.Load(LockPath).Check(Recipe(), 2);
        Assert.That(check.Status, Is.EqualTo(LockStatus.CounterBumped));
        Assert.That(check.Changes, Is.EqualTo(new[] { "changed configs/fragments/common/base.conf" }));
    }

    [Test]
    public void RecordingAgainAfterABumpIsCurrent()
    {
        Record(1);
        File.AppendAllText(_repo["configs/fragments/common/base.conf"], "CONFIG_B=y\n");
        Record(2);
        Assert.That(LockFile.Load(LockPath).Check(Recipe(), 2).Status, Is.EqualTo(LockStatus.Current));
    }

    [TestCase("{ not json")]
    [TestCase("[1, 2]")]
    [TestCase("{\"6.1/x86_64\": {\"ConfigVersion\": \"one\"}}")]
    public void CorruptLockIsAClearBadInputError(string text)
    {
        File.WriteAllText(LockPath, text);
        var e = Assert.Throws<KilnException>(() => LockFile.Load(LockPath))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.StartWith(LockPath + ":").And.Contain("not a valid lock file").And.Contain("--update-lock"));
    }

    [Test]
    public void CorruptLockNamesTheLine()
    {
        File.WriteAllText(LockPath, "{\n  \"6.1/x86_64\": {\n    \"ConfigVersion\": oops\n  }\n}\n");
        var e = Assert.Throws<KilnException>(() => LockFile.Load(LockPath))!;
        Assert.That(e.Message, Does.StartWith(LockPath + ":3:"), e.Message);
    }

    /// <summary>
    /// A hand-edited lock that is valid JSON but lacks fields is refused when it is loaded (exit 2, naming the file),
    /// never read with a default (a missing counter as 0) nor crashing later with a NullReferenceException.
    /// </summary>
    [TestCase("{\"6.1/x86_64\": {\"ConfigVersion\": 1, \"RecipeHash\": \"abc\", \"Version\": \"6.1.192\"}}")]
    [TestCase("{\"6.1/x86_64\": {\"RecipeHash\": \"abc\", \"Version\": \"6.1.192\", \"Files\": {}}}")]
    [TestCase("{\"6.1/x86_64\": null}")]
    [TestCase("{\"6.1/x86_64\": {}}")]
    public void IncompleteLockEntryIsAClearError(string text)
    {
        File.WriteAllText(LockPath, text);
        var e = Assert.Throws<KilnException>(() => LockFile.Load(LockPath))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.StartWith(LockPath + ":").And.Contain("not a valid lock file").And.Contain("--update-lock"), e.Message);
    }

    [Test]
    public void SaveIsAtomicAndLeavesNoTemporaryFile()
    {
        Record(1);
        var first = File.ReadAllText(LockPath);
        File.AppendAllText(_repo["configs/fragments/common/base.conf"], "CONFIG_B=y\n");
        Record(2);
        Assert.That(Directory.GetFiles(_repo.Path), Is.EqualTo(new[] { LockPath }), "no kiln.lock.tmp left behind");
        Assert.That(File.ReadAllText(LockPath), Is.Not.EqualTo(first));
        Assert.That(File.ReadAllText(LockPath), Does.EndWith("}\n"));
    }

    [Test]
    public void SaveIsStableSoTheLockDiffsCleanly()
    {
        Record(1);
        var first = File.ReadAllBytes(LockPath);
        Record(1);
        Assert.That(File.ReadAllBytes(LockPath), Is.EqualTo(first));
    }

    [Test]
    public void RepositoryLockIsCurrentForTheDefaultBuild()
    {
        var counter = ConfigVersion.Load(Path.Combine(Repo.Root, "kata_config_version"));
        var manifest = VersionsManifest.Load(Path.Combine(Repo.Root, "versions.yaml"));
        var recipe = BuildRecipe.Collect(Repo.Root, manifest.DefaultVersion, "x86_64", "");
        var check = LockFile.Load(Path.Combine(Repo.Root, "kiln.lock")).Check(recipe, counter);
        Assert.That(check.Status, Is.EqualTo(LockStatus.Current),
            "kiln.lock is out of date: " + string.Join("; ", check.Changes) + " (bump kata_config_version and run --target=CacheKey --update-lock)");
    }
}
