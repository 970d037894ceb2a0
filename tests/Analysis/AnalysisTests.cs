using Kiln.Kernel.Analysis;
using Kiln.Kernel.Diagnostics;
using Kiln.Tests.Integration;

namespace Kiln.Tests.Analysis;

/// <summary>Parsing checkpatch and sparse output and the lines a patch adds (no kernel tree needed).</summary>
[TestFixture]
public sealed class AnalysisParsingTests
{
    internal const string BadPatch = """
        From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001
        From: Kiln Test <kiln@example.org>
        Date: Mon, 1 Jan 2024 00:00:00 +0000
        Subject: [PATCH] init: a change with style errors

        Adds two lines that break the kernel's coding style on purpose.

        Signed-off-by: Kiln Test <kiln@example.org>
        ---
         init/main.c | 2 ++
         1 file changed, 2 insertions(+)

        diff --git a/init/main.c b/init/main.c
        --- a/init/main.c
        +++ b/init/main.c
        @@ -1,3 +1,5 @@
         // SPDX-License-Identifier: GPL-2.0-only
        +int kiln_bad ( int x ) { return x; }
        +static int kiln_unused = 0;
         /*
          *  linux/init/main.c
          *
        @@ -10,2 +12,3 @@ static int x;
         int a;
        -int b;
        +int c;
        +int d;
        --
        2.39.2

        """;

    private string _dir = null!;

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("kiln-analysis-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Added_lines_are_numbered_as_in_the_patched_file()
    {
        var patch = Path.Combine(_dir, "0001-bad.patch");
        File.WriteAllText(patch, BadPatch);
        var added = PatchAdditions.Read(patch);
        Assert.That(added.Keys, Is.EqualTo(new[] { "init/main.c" }));
        Assert.That(added["init/main.c"], Is.EquivalentTo(new[] { 2, 3, 13, 14 }));
    }

    [Test]
    public void Checkpatch_terse_output_becomes_findings_with_severity_and_type()
    {
        var findings = Checkpatch.Parse("""
            0001-x.patch:7: WARNING:COMMIT_MESSAGE: Missing commit description - Add an appropriate one
            0001-x.patch:16: ERROR:TRAILING_WHITESPACE: trailing whitespace
            0001-x.patch:17: CHECK:SPACING: spaces preferred around that '+'
            total: 1 errors, 1 warnings, 5 lines checked
            """, "0001-x.patch");
        Assert.That(findings.Select(f => (f.Severity, f.Line, f.Type)), Is.EqualTo(new[]
        {
            (Severity.Warning, 7, "COMMIT_MESSAGE"), (Severity.Error, 16, "TRAILING_WHITESPACE"), (Severity.Check, 17, "SPACING"),
        }));
        Assert.That(findings[1].Message, Is.EqualTo("trailing whitespace"));
    }

    [Test]
    public void Sparse_findings_count_against_the_patch_that_added_their_line_and_the_rest_are_pre_existing()
    {
        var onAddedLine = new Finding("sparse", Severity.Error, "init/main.c", 13, "", "bad constant expression");
        var elsewhere = new Finding("sparse", Severity.Warning, "init/main.c", 195, "", "symbol 'envp_init' was not declared");
        var otherFile = new Finding("sparse", Severity.Warning, "kernel/fork.c", 13, "", "not this patch's file");
        var style = new Finding("checkpatch", Severity.Warning, "0001-a.patch", 7, "COMMIT_MESSAGE", "Missing commit description");
        var (patches, preExisting) = SeriesAnalyzer.Attribute(new (string, IReadOnlyDictionary<string, IReadOnlySet<int>>, IReadOnlyList<Finding>)[]
        {
            ("0001-a.patch", new Dictionary<string, IReadOnlySet<int>> { ["init/main.c"] = new HashSet<int> { 2, 13 } }, new[] { style }),
            ("0002-b.patch", new Dictionary<string, IReadOnlySet<int>> { ["kernel/fork.c"] = new HashSet<int> { 40 } }, Array.Empty<Finding>()),
        }, new[] { onAddedLine, elsewhere, otherFile });

        Assert.That(patches[0].Findings, Is.EqualTo(new[] { style, onAddedLine }));
        Assert.That((patches[0].Errors, patches[0].Warnings), Is.EqualTo((1, 1)));
        Assert.That(patches[1].Findings, Is.Empty);
        Assert.That(preExisting, Is.EqualTo(new[] { elsewhere, otherFile }));
    }

    [Test]
    public void Sparse_findings_are_kept_for_the_touched_files_only_with_tree_relative_paths()
    {
        var findings = Sparse.Parse(new[]
        {
            "  CHECK   /src/linux/init/main.c",
            "/src/linux/init/main.c:195:12: warning: symbol 'envp_init' was not declared. Should it be static?",
            "/src/linux/include/linux/list.h:10:1: warning: in a header the series does not touch",
            "/src/linux/init/main.c:3:5: error: bad constant expression",
        }, "/src/linux", new[] { "init/main.c" });
        Assert.That(findings.Select(f => (f.File, f.Line, f.Severity)), Is.EqualTo(new[]
        {
            ("init/main.c", 195, Severity.Warning), ("init/main.c", 3, Severity.Error),
        }));
    }
}

/// <summary>The real checkpatch.pl of the shared 6.1 source tree, and the Analyze target on the shipped series.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class AnalysisIntegrationTests
{
    [Test]
    public void Checkpatch_of_the_kernel_tree_reports_errors_in_a_bad_patch()
    {
        var dir = Directory.CreateTempSubdirectory("kiln-checkpatch-").FullName;
        var patch = Path.Combine(dir, "0001-bad.patch");
        File.WriteAllText(patch, AnalysisParsingTests.BadPatch);
        var findings = Checkpatch.Run(TestKernel.SourceTree, patch, new RecordingLog());
        Assert.That(findings.Where(f => f.Severity == Severity.Error).Select(f => f.Type), Does.Contain("SPACING").And.Contain("INITIALISED_STATIC"));
        Assert.That(findings.All(f => f.File == "0001-bad.patch"));
        Directory.Delete(dir, recursive: true);
    }

    [Test]
    public void Analyze_passes_the_shipped_series_and_writes_a_report()
    {
        _ = SharedKernel.OutDir;
        var outDir = Path.Combine(Path.GetTempPath(), "kiln-test-out-" + Guid.NewGuid().ToString("N")[..8]);
        var env = Path.Combine(outDir + "-ci.env");
        var run = KilnRun.Run(new[] { "--target=Analyze", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir, "--ci-output=" + env });
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain("0001-init-print-a-Kiln-marker-after-the-Linux-banner.patch: 0 error(s)"));
        Assert.That(run.Output, Does.Contain("sparse checked init/main.c"));
        var report = Path.Combine(outDir, "analysis", "analysis.json");
        Assert.That(File.ReadAllText(env), Does.Contain("analysis_report=" + report));
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(report));
        Assert.That(json.RootElement.GetProperty("errors").GetInt32(), Is.EqualTo(0));
        Assert.That(json.RootElement.GetProperty("sparse_checked")[0].GetString(), Is.EqualTo("init/main.c"));
    }
}
