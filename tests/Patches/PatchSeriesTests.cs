using System.Security.Cryptography;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Patches;
using NUnit.Framework;

namespace Kiln.Tests.Patches;

public class PatchSeriesTests
{
    private PatchFixtures _fx = null!;

    [SetUp] public void SetUp() => _fx = new PatchFixtures();
    [TearDown] public void TearDown() => _fx.Dispose();

    [Test]
    public void MissingDirectoryIsAnEmptySeries()
    {
        var series = PatchSeries.ForKernel(Path.Combine(_fx.Root, "patches"), "6.6.63");

        Assert.That(series.IsEmpty);
        Assert.That(series.Directory, Does.EndWith("6.6.x"));
    }

    [TestCase("6.1", "6.1.x")]
    [TestCase("6.1.192", "6.1.x")]
    [TestCase("v6.12.117", "6.12.x")]
    [TestCase("6.6-rc3", "6.6.x")]
    public void SeriesDirectoryNameTakesMajorMinor(string version, string expected) =>
        Assert.That(PatchSeries.SeriesDirectoryName(version), Is.EqualTo(expected));

    [Test]
    public void SeriesDirectoryNameRejectsNonVersions()
    {
        var e = Assert.Throws<KilnException>(() => PatchSeries.SeriesDirectoryName("latest"));
        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
    }

    [Test]
    public void PatchesAreOrderedByNumberAndOtherFilesIgnored()
    {
        _fx.Write("0010-third.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff("c();")));
        _fx.Write("0002-second.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff("b();")));
        _fx.Write("0001-first.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff("a();")));
        _fx.Write("README.md", "not a patch, not loaded");

        var series = PatchSeries.Load(_fx.SeriesDir);

        Assert.That(series.Patches.Select(p => p.FileName),
            Is.EqualTo(new[] { "0001-first.patch", "0002-second.patch", "0010-third.patch" }));
        Assert.That(series.Patches.Select(p => p.Number), Is.EqualTo(new int?[] { 1, 2, 10 }));
    }

    [Test]
    public void A_number_too_large_for_a_series_is_bad_input_naming_the_patch()
    {
        _fx.Write("99999999999-x.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff()));
        var e = Assert.Throws<KilnException>(() => PatchSeries.Load(_fx.SeriesDir))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("99999999999-x.patch").And.Contain("at most 9999"));
    }

    [Test]
    public void A_hunk_line_count_that_overflows_is_bad_input_naming_the_line()
    {
        var path = _fx.Write("0001-x.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff().Replace("@@ -1,5 +1,6 @@", "@@ -1,99999999999 +1,6 @@")));
        var e = Assert.Throws<KilnException>(() => PatchFile.Load(path))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Match(@"0001-x\.patch:\d+: the hunk header's line count 99999999999 is out of range"));
    }

    [Test]
    public void ParsesHeadersTrailersAndTouchedFiles()
    {
        const string diff =
            "diff --git a/init/main.c b/init/main.c\n--- a/init/main.c\n+++ b/init/main.c\n@@ -1,2 +1,2 @@\n int main(void)\n-{\n+{ \n" +
            "diff --git a/lib/new.c b/lib/new.c\nnew file mode 100644\n--- /dev/null\n+++ b/lib/new.c\n@@ -0,0 +1 @@\n+int x;\n" +
            "diff --git a/old/name.c b/new/name.c\nsimilarity index 100%\nrename from old/name.c\nrename to new/name.c\n";
        var path = _fx.Write("0001-init-say-hello.patch", PatchFixtures.FormatPatch(diff,
            subject: "[PATCH 6.1 backport] init: say\n hello",
            from: "=?UTF-8?q?Uwe=20Kleine-K=C3=B6nig?=\n <uwe@example.org>",
            trailers: "(cherry picked from commit 0123456789abcdef0123456789abcdef01234567)\n" +
                      "Origin: https://git.kernel.org/linus/0123456789ab\n" +
                      "Kiln-Boot-Expect: hello from init\n" +
                      "Signed-off-by: A <a@example.org>\nSigned-off-by: B <b@example.org>"));

        var patch = PatchSeries.Load(_fx.SeriesDir).Patches.Single();

        Assert.Multiple(() =>
        {
            Assert.That(patch.Sha256, Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))));
            Assert.That(patch.From!.Value, Is.EqualTo("Uwe Kleine-König <uwe@example.org>"));
            Assert.That(patch.From.Line, Is.EqualTo(2));
            Assert.That(patch.Subject!.Value, Is.EqualTo("[PATCH 6.1 backport] init: say hello"));
            Assert.That(patch.Title, Is.EqualTo("init: say hello"));
            Assert.That(patch.IsBackport);
            Assert.That(patch.SignedOffBy.Select(s => s.Value), Is.EqualTo(new[] { "A <a@example.org>", "B <b@example.org>" }));
            Assert.That(patch.Origins.Single().Value, Is.EqualTo("https://git.kernel.org/linus/0123456789ab"));
            Assert.That(patch.CherryPickedFrom.Single().Value, Is.EqualTo("0123456789abcdef0123456789abcdef01234567"));
            Assert.That(patch.BootExpectations.Single().Value, Is.EqualTo("hello from init"));
            Assert.That(patch.TouchedFiles, Is.EqualTo(new[] { "init/main.c", "lib/new.c", "old/name.c", "new/name.c" }));
        });
    }

    [Test]
    public void RemovedLineThatLooksLikeAFileHeaderIsNotATouchedFile()
    {
        const string diff =
            "--- a/scripts/q.sql\n+++ b/scripts/q.sql\n@@ -1,2 +1,1 @@\n" +
            "--- a/not/a/file\n" +
            " select 1;\n";
        _fx.Write("0001-sql.patch", PatchFixtures.FormatPatch(diff));

        var patch = PatchSeries.Load(_fx.SeriesDir).Patches.Single();

        Assert.That(patch.TouchedFiles, Is.EqualTo(new[] { "scripts/q.sql" }));
    }

    [Test]
    public void FileWithoutADiffIsBadInputNamingTheFile()
    {
        var path = _fx.Write("0001-notes.patch", "From: someone\nSubject: just notes\n\nno diff here\n");

        var e = Assert.Throws<KilnException>(() => PatchSeries.Load(_fx.SeriesDir));

        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain(path).And.Contain("not a patch"));
    }

    [Test]
    public void SeriesHashChangesWithAnyPatchContentAndCollectsBootExpectations()
    {
        var path = _fx.Write("0001-a.patch", PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff(), trailers: "Kiln-Boot-Expect: one\nSigned-off-by: A <a@x>"));
        var before = PatchSeries.Load(_fx.SeriesDir);
        File.AppendAllText(path, "\n");
        var after = PatchSeries.Load(_fx.SeriesDir);

        Assert.That(after.Hash, Is.Not.EqualTo(before.Hash));
        Assert.That(PatchSeries.Load(_fx.SeriesDir).Hash, Is.EqualTo(after.Hash));
        Assert.That(after.BootExpectations, Is.EqualTo(new[] { "one" }));
    }
}
