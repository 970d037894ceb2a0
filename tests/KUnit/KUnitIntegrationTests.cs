using System.Diagnostics;
using System.Text.Json;
using System.Xml.Linq;
using Kiln.Tests.Integration;
using NUnit.Framework;

namespace Kiln.Tests.KUnit;

/// <summary>
/// BootTest --kunit on the 6.1 guest kernel with a fixture patch that adds a suite with a passing, a failing, a skipped and
/// a parameterised case: one kunit-variant kernel build (shared by both tests through the test cache), then real boots.
/// Kiln's verdicts are checked against kunit.py's own parser (tools/testing/kunit/kunit.py parse --json) on the same console.
/// Extended: the kunit-variant kernel is a cold build that no other test shares.
/// </summary>
[TestFixture, Category("Extended"), NonParallelizable]
public class KUnitIntegrationTests
{
    private static string? _root;

    private static string Root => _root ??= InputsWithFixture();

    [OneTimeTearDown]
    public void RemoveInputs()
    {
        if (_root is not null) Directory.Delete(_root, recursive: true);
    }

    private static KilnRunResult BootTest(string outDir, string kunit) =>
        KilnRun.Run(["--target=BootTest", "--kernel=6.1", kunit, "--timeout=900", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir], repoRoot: Root,
            timeout: TimeSpan.FromMinutes(60));

    [Test]
    public void Every_suite_runs_and_the_failing_case_fails_the_boot_with_the_verdicts_kunit_py_gives()
    {
        var outDir = Directory.CreateTempSubdirectory("kiln-kunit-all-").FullName;
        try
        {
            var run = BootTest(outDir, "--kunit");
            Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
            Assert.That(run.Output, Does.Contain("kunit:kiln_fixture.kiln_fixture_fails"));

            var checks = Checks(outDir);
            Assert.That(checks["kunit:kiln_fixture.kiln_fixture_fails"], Is.EqualTo("fail"));
            Assert.That(checks["kunit:kiln_fixture.kiln_fixture_passes"], Is.EqualTo("pass"));
            Assert.That(checks["kunit:kiln_fixture.kiln_fixture_skips"], Is.EqualTo("skipped"));
            Assert.That(checks["kunit:kiln_fixture.kiln_fixture_params"], Is.EqualTo("pass"));
            Assert.That(checks["kunit"], Is.EqualTo("pass"), "KTAP complete");
            Assert.That(checks.Keys.Count(k => k.StartsWith("kunit:", StringComparison.Ordinal) && !k.StartsWith("kunit:kiln_fixture.", StringComparison.Ordinal)),
                Is.GreaterThan(0), "KUNIT_ALL_TESTS builds the kernel's own suites too");

            var junit = XDocument.Load(Path.Combine(outDir, "boot", "junit.xml"));
            var failing = junit.Descendants("testcase").Single(t => (string?)t.Attribute("name") == "kiln_fixture_fails");
            Assert.That((string?)failing.Attribute("classname"), Is.EqualTo("kunit.kiln_fixture"));
            Assert.That(failing.Element("failure")?.Value, Does.Contain("EXPECTATION FAILED").And.Contain("1 + 1 == 3"));

            // kunit.py's parser on the same console: the same cases, the same verdicts.
            var kunitPy = KunitPyVerdicts(Path.Combine(outDir, "boot", "serial.log"));
            var ours = checks.Where(c => c.Key.StartsWith("kunit:", StringComparison.Ordinal) && c.Key.Contains('.'))
                .ToDictionary(c => c.Key["kunit:".Length..], c => c.Value);
            Assert.That(ours, Is.EquivalentTo(kunitPy), "Kiln's cases and verdicts against kunit.py parse --json");
            TestContext.Progress.WriteLine($"KUnit: {ours.Count} cases, {ours.Count(c => c.Value == "fail")} failed, " +
                                           $"{ours.Count(c => c.Value == "skipped")} skipped, in {run.Duration.TotalMinutes:F1} min");
            foreach (var (name, status) in ours.OrderBy(c => c.Key)) TestContext.Progress.WriteLine($"  {status,-8} {name}");
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Test]
    public void A_glob_runs_only_the_cases_it_matches()
    {
        var outDir = Directory.CreateTempSubdirectory("kiln-kunit-glob-").FullName;
        try
        {
            var run = BootTest(outDir, "--kunit=kiln_fixture.kiln_fixture_p*");
            Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
            var kunit = Checks(outDir).Where(c => c.Key.StartsWith("kunit:", StringComparison.Ordinal)).Select(c => c.Key).Order();
            Assert.That(kunit, Is.EqualTo(new[] { "kunit:kiln_fixture.kiln_fixture_params", "kunit:kiln_fixture.kiln_fixture_passes" }));
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    /// <summary>
    /// kunit.py run (its own UML kernel with only KUnit and the fixture, built by the kernel's tool) on the same patched tree:
    /// the fixture's cases and verdicts must be the ones Kiln's boot gave.
    /// </summary>
    [Test]
    public void Kunit_py_run_on_the_same_tree_gives_the_fixture_the_same_verdicts()
    {
        var outDir = Directory.CreateTempSubdirectory("kiln-kunit-py-").FullName;
        try
        {
            var run = BootTest(outDir, "--kunit=kiln_fixture");
            Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
            var ours = Checks(outDir).Where(c => c.Key.StartsWith("kunit:kiln_fixture.", StringComparison.Ordinal))
                .ToDictionary(c => c.Key["kunit:".Length..], c => c.Value);

            // The tree Kiln built: the kunit variant's working tree, on the fixture's series.
            var tree = Path.Combine(KilnRun.SharedCacheDir, "work", "6.1.192-x86_64-kunit", "linux");
            Assert.That(File.Exists(Path.Combine(tree, "lib", "kunit", "kiln-fixture-test.c")), Is.True, "the fixture's working tree");
            var kunitconfig = Path.Combine(outDir, "kiln.kunitconfig");
            File.WriteAllText(kunitconfig, "CONFIG_KUNIT=y\nCONFIG_KILN_FIXTURE_KUNIT_TEST=y\n");
            var json = Path.Combine(outDir, "kunit-py.json");
            var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = tree };
            foreach (var a in new[] { "tools/testing/kunit/kunit.py", "run", "--build_dir=" + Path.Combine(outDir, "uml"), "--kunitconfig=" + kunitconfig,
                         "--jobs=" + Environment.ProcessorCount, "--json=" + json, "kiln_fixture" })
                psi.ArgumentList.Add(a);
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            Assert.That(process.WaitForExit(TimeSpan.FromMinutes(40)), Is.True, "kunit.py run did not finish");
            var theirs = KunitPyJson(File.ReadAllText(json)).Where(c => c.Key.StartsWith("kiln_fixture.", StringComparison.Ordinal))
                .ToDictionary(c => c.Key, c => c.Value);
            Assert.That(theirs, Is.EquivalentTo(ours), $"kunit.py run (UML) against Kiln's boot\n{stdout.Result}\n{stderr.Result}");
            TestContext.Progress.WriteLine("kunit.py run (UML) and Kiln's boot agree on kiln_fixture: " +
                                           string.Join(", ", ours.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}")));
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    private static Dictionary<string, string> Checks(string outDir)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "boot", "results.json")));
        return json.RootElement.GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString()!);
    }

    /// <summary>SUITE.CASE → pass, fail or skipped, as kunit.py reads the console (a parameterised case passes unless a parameter failed).</summary>
    private static Dictionary<string, string> KunitPyVerdicts(string serialLog)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(PristineTree(), "tools", "testing", "kunit", "kunit.py"), "parse", "--json", serialLog }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        // --json prints kunit.py's summary first, then the document.
        return KunitPyJson(output[output.IndexOf("{\n", StringComparison.Ordinal)..]);
    }

    /// <summary>kunit.py's --json document as SUITE.CASE → pass, fail or skipped (a parameterised case passes unless a parameter failed).</summary>
    private static Dictionary<string, string> KunitPyJson(string text)
    {
        using var json = JsonDocument.Parse(text);
        var verdicts = new Dictionary<string, string>();
        foreach (var suite in json.RootElement.GetProperty("sub_groups").EnumerateArray())
        {
            var name = suite.GetProperty("name").GetString();
            foreach (var c in suite.GetProperty("test_cases").EnumerateArray())
                verdicts[$"{name}.{c.GetProperty("name").GetString()}"] = Status(c.GetProperty("status").GetString());
            foreach (var parameterised in suite.GetProperty("sub_groups").EnumerateArray())
            {
                var statuses = parameterised.GetProperty("test_cases").EnumerateArray().Select(p => Status(p.GetProperty("status").GetString())).ToList();
                verdicts[$"{name}.{parameterised.GetProperty("name").GetString()}"] =
                    statuses.Contains("fail") ? "fail" : statuses.All(s => s == "skipped") ? "skipped" : "pass";
            }
        }
        return verdicts;

        static string Status(string? kunitPy) => kunitPy switch { "PASS" => "pass", "SKIP" => "skipped", _ => "fail" };
    }

    private static string PristineTree()
    {
        var sources = Path.Combine(KilnRun.SharedCacheDir, "sources");
        return Directory.GetDirectories(sources).First(d => File.Exists(Path.Combine(d, "lib", "kunit", "Kconfig")));
    }

    /// <summary>
    /// A copy of the repository's inputs whose 6.1 series also adds lib/kunit/kiln-fixture-test.c, made with git from the
    /// pristine tree's files so it applies: a suite kiln_fixture with cases that pass, fail, skip and take parameters.
    /// </summary>
    private static string InputsWithFixture()
    {
        var setup = KilnRun.Run(["--target=Setup", "--kernel=6.1", "--cache-dir=" + KilnRun.SharedCacheDir]);
        Assert.That(setup.ExitCode, Is.EqualTo(0), setup.ToString());
        var root = KilnRun.CopyInputs();
        var git = Directory.CreateTempSubdirectory("kiln-kunit-fixture-").FullName;
        try
        {
            var pristine = PristineTree();
            Directory.CreateDirectory(Path.Combine(git, "lib", "kunit"));
            foreach (var file in new[] { "Kconfig", "Makefile" })
                File.Copy(Path.Combine(pristine, "lib", "kunit", file), Path.Combine(git, "lib", "kunit", file));
            Git(git, "init", "-q");
            Git(git, "add", ".");
            Git(git, "commit", "-q", "-m", "pristine");

            var kconfig = Path.Combine(git, "lib", "kunit", "Kconfig");
            File.WriteAllText(kconfig, File.ReadAllText(kconfig).Replace("endif # KUNIT",
                "config KILN_FIXTURE_KUNIT_TEST\n\tbool \"Kiln's KUnit fixture (one case fails)\" if !KUNIT_ALL_TESTS\n\tdefault KUNIT_ALL_TESTS\n\nendif # KUNIT"));
            File.AppendAllText(Path.Combine(git, "lib", "kunit", "Makefile"), "\nobj-$(CONFIG_KILN_FIXTURE_KUNIT_TEST) +=\tkiln-fixture-test.o\n");
            File.WriteAllText(Path.Combine(git, "lib", "kunit", "kiln-fixture-test.c"), """
                // SPDX-License-Identifier: GPL-2.0
                /* Kiln's KUnit fixture: a case that passes, one that fails, one that skips, one with parameters. */
                #include <kunit/test.h>

                static void kiln_fixture_passes(struct kunit *test)
                {
                	KUNIT_EXPECT_EQ(test, 1 + 1, 2);
                }

                static void kiln_fixture_fails(struct kunit *test)
                {
                	KUNIT_EXPECT_EQ(test, 1 + 1, 3);
                }

                static void kiln_fixture_skips(struct kunit *test)
                {
                	kunit_skip(test, "the fixture skips this case");
                }

                static const int kiln_fixture_values[] = { 1, 2, 3 };

                static void kiln_fixture_value_desc(const int *value, char *desc)
                {
                	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "value %d", *value);
                }

                KUNIT_ARRAY_PARAM(kiln_fixture_values, kiln_fixture_values, kiln_fixture_value_desc);

                static void kiln_fixture_params(struct kunit *test)
                {
                	const int *value = test->param_value;

                	KUNIT_EXPECT_GT(test, *value, 0);
                }

                static struct kunit_case kiln_fixture_cases[] = {
                	KUNIT_CASE(kiln_fixture_passes),
                	KUNIT_CASE(kiln_fixture_fails),
                	KUNIT_CASE(kiln_fixture_skips),
                	KUNIT_CASE_PARAM(kiln_fixture_params, kiln_fixture_values_gen_params),
                	{}
                };

                static struct kunit_suite kiln_fixture_suite = {
                	.name = "kiln_fixture",
                	.test_cases = kiln_fixture_cases,
                };
                kunit_test_suite(kiln_fixture_suite);

                MODULE_LICENSE("GPL");

                """.Replace("\r", ""));
            Git(git, "add", ".");
            Git(git, "commit", "-q", "-s", "-m", "lib/kunit: add the Kiln KUnit fixture suite\n\nA suite whose cases pass, fail, skip and take parameters, for Kiln's KUnit test.");
            var patch = Git(git, "format-patch", "-1", "--stdout");
            File.WriteAllText(Path.Combine(root, "patches", "6.1.x", "0002-lib-kunit-add-the-Kiln-KUnit-fixture-suite.patch"), patch);
            return root;
        }
        finally
        {
            Directory.Delete(git, recursive: true);
        }
    }

    private static string Git(string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        foreach (var a in new[] { "-c", "user.name=Ada Dev", "-c", "user.email=ada@example.org", "-c", "commit.gpgsign=false" }.Concat(args)) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.EqualTo(0), $"git {string.Join(' ', args)}: {error}");
        return output;
    }
}
