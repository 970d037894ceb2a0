using Kiln.Kernel.Boot;
using Kiln.Kernel.KUnit;
using NUnit.Framework;

namespace Kiln.Tests.KUnit;

public class KtapTests
{
    /// <summary>A 6.1 console: printk times, kernel messages between KTAP lines, a parameterised case, a skip and a failure.</summary>
    internal static readonly string[] Console61 =
    [
        "[    0.412000] Run /init as init process",
        "[    0.300000] KTAP version 1",
        "[    0.300001] 1..2",
        "[    0.300002]     KTAP version 1",
        "[    0.300003]     # Subtest: example",
        "[    0.300004]     1..3",
        "[    0.300005]     # example_simple_test: initializing",
        "[    0.300006]     ok 1 example_simple_test",
        "[    0.300007]     # example_skip_test: initializing",
        "[    0.300008]     ok 2 example_skip_test # SKIP this test should be skipped",
        "[    0.300009]         KTAP version 1",
        "[    0.300010]         # Subtest: example_params_test",
        "[    0.300011]         ok 1 example value 3",
        "[    0.300012]         ok 2 example value 0 # SKIP unsupported param value",
        "[    0.300013]     # example_params_test: pass:1 fail:0 skip:1 total:2",
        "[    0.300014]     ok 3 example_params_test",
        "[    0.300015] # example: pass:2 fail:0 skip:1 total:3",
        "[    0.300016] # Totals: pass:3 fail:0 skip:2 total:5",
        "[    0.300017] ok 1 example",
        "[    0.300018] random: crng init done",
        "[    0.300019]     KTAP version 1",
        "[    0.300020]     # Subtest: kiln_fixture",
        "[    0.300021]     1..2",
        "[    0.300022]     # kiln_fixture_fails: EXPECTATION FAILED at lib/kunit/kiln-fixture-test.c:12",
        "[    0.300023]     Expected 1 + 1 == 3, but",
        "[    0.300024]         1 + 1 == 2 (0x2)",
        "[    0.300025]     not ok 1 kiln_fixture_fails",
        "[    0.300026]     ok 2 kiln_fixture_passes",
        "[    0.300027] # kiln_fixture: pass:1 fail:1 skip:0 total:2",
        "[    0.300028] # Totals: pass:1 fail:1 skip:0 total:2",
        "[    0.300029] not ok 2 kiln_fixture",
    ];

    [Test]
    public void Cases_suites_skips_parameters_and_diagnostics_are_read_from_a_6_1_console()
    {
        var run = Ktap.Parse(Console61);

        Assert.That((run.Found, run.PlannedSuites, run.Complete), Is.EqualTo((true, (int?)2, true)));
        Assert.That(run.Suites.Select(s => (s.Name, s.Status)), Is.EqualTo(new[] { ("example", KUnitStatus.Pass), ("kiln_fixture", KUnitStatus.Fail) }));
        Assert.That(run.Cases.Select(c => (c.Suite, c.Name, c.Status)), Is.EqualTo(new[]
        {
            ("example", "example_simple_test", KUnitStatus.Pass),
            ("example", "example_skip_test", KUnitStatus.Skip),
            ("example", "example_params_test", KUnitStatus.Pass),
            ("kiln_fixture", "kiln_fixture_fails", KUnitStatus.Fail),
            ("kiln_fixture", "kiln_fixture_passes", KUnitStatus.Pass),
        }));
        var cases = run.Cases.ToDictionary(c => c.Name);
        Assert.That(cases["example_skip_test"].SkipReason, Is.EqualTo("this test should be skipped"));
        Assert.That(cases["example_params_test"].Parameters, Is.EqualTo(new[] { ("example value 3", KUnitStatus.Pass), ("example value 0", KUnitStatus.Skip) }));
        Assert.That(cases["kiln_fixture_fails"].Diagnostics, Is.EqualTo(new[]
            { "kiln_fixture_fails: EXPECTATION FAILED at lib/kunit/kiln-fixture-test.c:12", "Expected 1 + 1 == 3, but", "1 + 1 == 2 (0x2)" }));
        Assert.That(cases["kiln_fixture_passes"].Diagnostics, Is.Empty, "KUnit's counters and the kernel's own messages are nobody's output");
    }

    [Test]
    public void One_check_per_case_with_the_failure_s_diagnostics_and_the_skip_s_reason()
    {
        var checks = new KUnitRequest(null).Judge(Ktap.Parse(Console61)).ToDictionary(c => c.Name);

        Assert.That(checks["kunit"].Status, Is.EqualTo(CheckStatus.Pass), "the run as a whole is sound; the failing case fails on its own");
        Assert.That(checks["kunit"].Message, Is.EqualTo("2 suite(s), 5 case(s): 3 passed, 1 failed, 1 skipped"));
        Assert.That(checks["kunit:kiln_fixture.kiln_fixture_fails"].Status, Is.EqualTo(CheckStatus.Fail));
        Assert.That(checks["kunit:kiln_fixture.kiln_fixture_fails"].Message, Does.StartWith("kiln_fixture_fails: EXPECTATION FAILED at lib/kunit/kiln-fixture-test.c:12"));
        Assert.That(checks["kunit:kiln_fixture.kiln_fixture_fails"].Details, Does.Contain("Expected 1 + 1 == 3, but"));
        Assert.That(checks["kunit:example.example_skip_test"].Status, Is.EqualTo(CheckStatus.Skipped));
        Assert.That(checks["kunit:example.example_skip_test"].Message, Does.Contain("this test should be skipped"));
        Assert.That(checks["kunit:example.example_params_test"].Message, Is.EqualTo("ok (2 parameters: 1 passed, 0 failed, 1 skipped)"));
    }

    [Test]
    public void A_console_that_ends_inside_a_suite_fails_that_suite_and_the_run()
    {
        var crashed = Console61.Take(28).Append("[    0.400000] Kernel panic - not syncing: Oops").ToArray();
        var run = Ktap.Parse(crashed);
        var checks = new KUnitRequest(null).Judge(run).ToDictionary(c => c.Name);

        Assert.That(run.Complete, Is.False);
        Assert.That(checks["kunit:kiln_fixture"].Message, Does.Contain("never finished").And.Contain("after 2 of its cases"));
        Assert.That(checks["kunit"].Status, Is.EqualTo(CheckStatus.Fail));
        Assert.That(checks["kunit"].Message, Does.StartWith("KTAP planned 2 suite(s) and the console ended after 1"));
    }

    [Test]
    public void A_tree_without_kunit_is_exit_2_before_configure()
    {
        var tree = Directory.CreateTempSubdirectory("kiln-old-tree-").FullName;
        try
        {
            var e = Assert.Throws<Kiln.Kernel.Diagnostics.KilnException>(() => KUnitRequest.RequireIn(tree))!;
            Assert.That(e.ExitCode, Is.EqualTo(2));
            Assert.That(e.Message, Does.Contain("has no KUnit").And.Contain("5.5"));
            Directory.CreateDirectory(Path.Combine(tree, "lib", "kunit"));
            File.WriteAllText(Path.Combine(tree, "lib", "kunit", "Kconfig"), "menuconfig KUNIT\n");
            Assert.DoesNotThrow(() => KUnitRequest.RequireIn(tree));
        }
        finally
        {
            Directory.Delete(tree, recursive: true);
        }
    }

    [Test]
    public void No_ktap_or_no_case_is_a_failure_that_says_why()
    {
        var none = new KUnitRequest(null).Judge(Ktap.Parse(["[    0.1] Linux version 6.1.192-2", "[    0.2] Run /init as init process"]));
        Assert.That(none.Single().Message, Does.StartWith("no KTAP on the console"));

        var unmatched = new KUnitRequest("nothing*").Judge(Ktap.Parse(["[    0.1] KTAP version 1", "[    0.1] 1..0"]));
        Assert.That(unmatched.Single().Status, Is.EqualTo(CheckStatus.Fail));
        Assert.That(unmatched.Single().Message, Is.EqualTo("KUnit ran no case: kunit.filter_glob=nothing* matched no suite"));
        Assert.That(new KUnitRequest("kiln_fixture.*").KernelArgument, Is.EqualTo("kunit.enable=1 kunit.filter_glob=kiln_fixture.*"));
        Assert.That(new KUnitRequest(null).KernelArgument, Is.EqualTo("kunit.enable=1"), "allnoconfig leaves CONFIG_KUNIT_DEFAULT_ENABLED off");
    }
}
