using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Patches;
using NUnit.Framework;

namespace Kiln.Tests.Patches;

public class PatchLintTests
{
    private const string FullSha = "0123456789abcdef0123456789abcdef01234567";
    private PatchFixtures _fx = null!;

    [SetUp] public void SetUp() => _fx = new PatchFixtures();
    [TearDown] public void TearDown() => _fx.Dispose();

    private IReadOnlyList<PatchProblem> Lint() => PatchLint.Check(PatchSeries.Load(_fx.SeriesDir));

    private static string Patch(string? subject = "[PATCH] init: say hello", string? from = "Ada Dev <ada@example.org>",
        string trailers = "Signed-off-by: Ada Dev <ada@example.org>") =>
        PatchFixtures.FormatPatch(PatchFixtures.AddLineDiff(), subject, from, trailers: trailers);

    [Test]
    public void WellFormedSeriesHasNoProblems()
    {
        _fx.Write("0001-a.patch", Patch());
        _fx.Write("0002-b.patch", Patch(subject: "[PATCH 6.1 backport] mm: fix", trailers: $"(cherry picked from commit {FullSha})\nSigned-off-by: A <a@x>"));
        _fx.Write("0003-c.patch", Patch(subject: "[PATCH] Backport: net: fix", trailers: "Origin: https://lore.kernel.org/r/123\nSigned-off-by: A <a@x>"));

        Assert.That(Lint(), Is.Empty);
        Assert.DoesNotThrow(() => PatchLint.ThrowIfProblems(PatchSeries.Load(_fx.SeriesDir)));
    }

    [Test]
    public void PrefixMustHaveFourDigits()
    {
        var path = _fx.Write("01-a.patch", Patch());
        Assert.That(Lint().Single().ToString(), Does.StartWith(path + ":1:").And.Contain("4 digits"));
    }

    [Test]
    public void PrefixIsRequired()
    {
        var path = _fx.Write("fix-a.patch", Patch());
        Assert.That(Lint().Single().ToString(), Does.StartWith(path + ":1:").And.Contain("no numeric prefix"));
    }

    [Test]
    public void PrefixMustBeUnique()
    {
        _fx.Write("0001-a.patch", Patch());
        var second = _fx.Write("0001-b.patch", Patch());

        var problem = Lint().Single();

        Assert.That(problem.File, Is.EqualTo(second));
        Assert.That(problem.Message, Does.Contain("0001-a.patch"));
    }

    [Test]
    public void FromIsRequired()
    {
        var path = _fx.Write("0001-a.patch", Patch(from: null));
        Assert.That(Lint().Single().ToString(), Does.StartWith(path + ":1:").And.Contain("From:"));
    }

    [Test]
    public void SubjectIsRequired()
    {
        var path = _fx.Write("0001-a.patch", Patch(subject: null));
        Assert.That(Lint().Single().ToString(), Does.StartWith(path + ":1:").And.Contain("Subject:"));
    }

    [Test]
    public void SignedOffByIsRequiredAndPointsAtTheEndOfTheMessage()
    {
        var path = _fx.Write("0001-a.patch", Patch(trailers: ""));
        var separatorLine = Array.IndexOf(File.ReadAllLines(path), "---") + 1;

        var problem = Lint().Single();

        Assert.That(problem.ToString(), Does.StartWith($"{path}:{separatorLine}:").And.Contain("Signed-off-by"));
    }

    [TestCase("[PATCH] backport: mm: fix")]
    [TestCase("[PATCH 6.1 BACKPORT] mm: fix")]
    public void BackportNeedsProvenance(string subject)
    {
        var path = _fx.Write("0001-a.patch", Patch(subject: subject));
        var subjectLine = Array.FindIndex(File.ReadAllLines(path), l => l.StartsWith("Subject:")) + 1;

        var problem = Lint().Single();

        Assert.That(problem.ToString(), Does.StartWith($"{path}:{subjectLine}:").And.Contain("cherry picked from commit"));
    }

    [Test]
    public void BackportCherryPickNeedsTheFullSha()
    {
        var path = _fx.Write("0001-a.patch", Patch(subject: "[PATCH backport] mm: fix", trailers: "(cherry picked from commit 0123abcd)\nSigned-off-by: A <a@x>"));
        var shaLine = Array.FindIndex(File.ReadAllLines(path), l => l.Contains("cherry picked")) + 1;

        var problems = Lint();

        Assert.That(problems.Select(p => p.Line), Does.Contain(shaLine));
        Assert.That(problems.Select(p => p.Message), Has.Some.Contains("40-hex"));
    }

    [Test]
    public void ThrowIfProblemsListsEveryProblemAsBadInput()
    {
        _fx.Write("01-a.patch", Patch(from: null));
        _fx.Write("0002-b.patch", Patch(trailers: ""));

        var e = Assert.Throws<KilnException>(() => PatchLint.ThrowIfProblems(PatchSeries.Load(_fx.SeriesDir)));

        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("3 problem(s)").And.Contain("01-a.patch:1:").And.Contain("0002-b.patch:"));
    }
}
