using Kiln.Kernel.Boot;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Kselftest;
using Kiln.Kernel.Pipeline;
using Kiln.Tests.Config;
using NUnit.Framework;

namespace Kiln.Tests.Kselftest;

public class KselftestsTests
{
    private string _tree = "";

    [SetUp]
    public void MakeTree()
    {
        _tree = Directory.CreateTempSubdirectory("kiln-kselftest-tree-").FullName;
        var selftests = Directory.CreateDirectory(Path.Combine(_tree, "tools", "testing", "selftests")).FullName;
        File.WriteAllText(Path.Combine(selftests, "Makefile"), "# SPDX\nTARGETS += proc\nTARGETS += size\nTARGETS += net/af_unix\nTARGETS_HOTPLUG = cpu-hotplug\n");
        Directory.CreateDirectory(Path.Combine(selftests, "proc"));
        File.WriteAllText(Path.Combine(selftests, "proc", "config"), "CONFIG_PROC_FS=y\n");
        Directory.CreateDirectory(Path.Combine(selftests, "size"));
    }

    [TearDown]
    public void RemoveTree() => Directory.Delete(_tree, recursive: true);

    [Test]
    public void The_tree_s_makefile_names_the_targets_and_an_unknown_one_is_exit_2_listing_them()
    {
        Assert.That(Kselftests.ValidTargets(_tree), Is.EqualTo(new[] { "proc", "size", "net/af_unix" }));
        Assert.DoesNotThrow(() => Kselftests.Check(_tree, ["size", "net/af_unix"]));
        var e = Assert.Throws<KilnException>(() => Kselftests.Check(_tree, ["size", "timerz"]))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("unknown selftest target timerz").And.Contain("proc, size, net/af_unix"));
    }

    [Test]
    public void A_target_s_config_fragment_joins_the_fragments_under_its_tree_path()
    {
        var set = Kselftests.WithFragments(new FragmentSet([]), _tree, ["size", "proc"]);
        Assert.That(set.Fragments.Select(f => f.DisplayName), Is.EqualTo(new[] { "tools/testing/selftests/proc/config" }), "size has no config");
        Assert.That(set.Requested.Select(o => o.Display), Is.EqualTo(new[] { "CONFIG_PROC_FS=y" }));
    }

    private static readonly string[] Tap =
    [
        "TAP version 13",
        "1..3",
        "# selftests: size: get_size",
        "# TAP version 13",
        "# # Testing system size.",
        "# ok 1 get runtime memory use",
        "# # System runtime memory report (units in Kilobytes):",
        "ok 1 selftests: size: get_size",
        "# selftests: proc: proc-pid-vm",
        "# proc-pid-vm: proc-pid-vm.c:380: main: Assertion `rv == len' failed.",
        "not ok 2 selftests: proc: proc-pid-vm # exit=134",
        "# selftests: proc: proc-multiple-procfs",
        "ok 3 selftests: proc: proc-multiple-procfs # SKIP",
    ];

    [Test]
    public void Run_kselftest_s_tap_is_one_check_per_test_with_its_output_on_failure()
    {
        var checks = Kselftests.Judge(Kselftests.ParseTap(Tap), ["size", "proc"]).ToDictionary(c => c.Name);

        Assert.That(checks["kselftest"].Status, Is.EqualTo(CheckStatus.Pass));
        Assert.That(checks["kselftest"].Message, Is.EqualTo("3 test(s) of size, proc: 1 passed, 1 failed, 1 skipped"));
        Assert.That(checks["kselftest:size.get_size"].Status, Is.EqualTo(CheckStatus.Pass));
        Assert.That(checks["kselftest:proc.proc-pid-vm"].Status, Is.EqualTo(CheckStatus.Fail));
        Assert.That(checks["kselftest:proc.proc-pid-vm"].Message, Is.EqualTo("not ok # exit=134: proc-pid-vm: proc-pid-vm.c:380: main: Assertion `rv == len' failed."));
        Assert.That(checks["kselftest:proc.proc-pid-vm"].Details, Does.Contain("selftests: proc: proc-pid-vm"));
        Assert.That(checks["kselftest:proc.proc-multiple-procfs"].Status, Is.EqualTo(CheckStatus.Skipped));
    }

    [Test]
    public void A_target_that_reported_nothing_fails_the_run()
    {
        var checks = Kselftests.Judge(Kselftests.ParseTap(Tap.Take(8)), ["size", "proc"]);
        Assert.That(checks[0].Status, Is.EqualTo(CheckStatus.Fail));
        Assert.That(checks[0].Message, Does.StartWith("no test of proc reported a result"));
    }

    [Test]
    public void A_test_the_guest_hung_in_fails_and_the_results_before_it_stay()
    {
        var hung = Tap.Take(9).ToList();
        Assert.That(Kselftests.Unfinished(hung), Is.EqualTo(("proc", "proc-pid-vm")));
        Assert.That(Kselftests.Unfinished(Tap), Is.Null);

        var checks = Kselftests.Judge(Kselftests.ParseTap(hung), ["size", "proc"], Kselftests.Unfinished(hung), "the guest did not finish within 150 s and was killed")
            .ToDictionary(c => c.Name);
        Assert.That(checks["kselftest"].Status, Is.EqualTo(CheckStatus.Fail));
        Assert.That(checks["kselftest"].Message, Does.StartWith("the guest did not finish the selftests: the guest did not finish within 150 s").And.EndWith("1 test(s) reported before that"));
        Assert.That(checks["kselftest:size.get_size"].Status, Is.EqualTo(CheckStatus.Pass));
        Assert.That(checks["kselftest:proc.proc-pid-vm"].Message, Is.EqualTo("started and never finished: the guest did not finish within 150 s and was killed"));
    }

    [Test]
    public void The_guest_s_time_limit_is_the_tests_own_plus_the_boot()
    {
        var install = Directory.CreateDirectory(Path.Combine(_tree, "install")).FullName;
        File.WriteAllText(Path.Combine(install, "kselftest-list.txt"), "size:get_size\nproc:fd-001-lookup\nproc:proc-tid0\ntimers:posix_timers\n");
        Directory.CreateDirectory(Path.Combine(install, "timers"));
        File.WriteAllText(Path.Combine(install, "timers", "settings"), "timeout=0\n");
        Assert.That(Kselftests.GuestTimeout(install), Is.EqualTo(TimeSpan.FromSeconds(120 + 45 * 3 + 600)));
    }

    private static KilnOptions Options(params (string Name, string Value)[] arguments) =>
        KilnOptions.Parse(arguments.ToLookup(a => a.Name, a => a.Value), new Dictionary<string, string?>(), TestPaths.RepositoryRoot);

    [Test]
    public void Targets_are_a_comma_list_of_names_and_the_target_needs_them()
    {
        Assert.That(Options(("kselftest", "timers, size,timers")).KselftestTargets, Is.EqualTo(new[] { "timers", "size" }));
        Assert.That(Assert.Throws<KilnException>(() => Options(("kselftest", "../etc")))!.Message, Does.Contain("'../etc' is not a selftest target name"));
        var e = Assert.Throws<KilnException>(() => Options(("target", "Kselftest")))!;
        Assert.That((e.ExitCode, e.Message), Is.EqualTo((ExitCodes.BadInput, "--target=Kselftest needs --kselftest=TARGETS, the selftests to run (for example --kselftest=timers,size).")));
    }

    [Test]
    public void Selftests_give_the_build_an_identity_and_a_build_directory_of_their_own()
    {
        var plain = KernelTarget.Resolve(Options());
        var withTests = KernelTarget.Resolve(Options(("kselftest", "size,proc")));
        Assert.That(withTests.Recipe.Hash, Is.Not.EqualTo(plain.Recipe.Hash));
        Assert.That(withTests.Recipe.LockName, Does.EndWith("/kselftest=size,proc"));
        Assert.That(withTests.CacheKey, Is.EqualTo(plain.CacheKey), "the same release");
        Assert.That(plain.Paths.BuildDirectory("6.1.192", Kiln.Kernel.Arch.X86_64, "", "host", kselftests: ["size", "net/af_unix"]),
            Does.EndWith(Path.Combine("work", "6.1.192-x86_64-kselftest-size+net_af_unix", "build")));
    }
}

public class KselftestPrerequisitesTests
{
    /// <summary>tools/testing/selftests/lib.mk installs with rsync; a host without it failed after the kernel build (make exit 127).</summary>
    [Test]
    public void Selftests_need_rsync_from_setup_on()
    {
        Assert.That(Kiln.Kernel.HostSetup.Prerequisites.For(Kiln.Kernel.Arch.X86_64, kselftest: true).Select(p => p.Package), Does.Contain("rsync"));
        Assert.That(Kiln.Kernel.HostSetup.Prerequisites.For(Kiln.Kernel.Arch.X86_64).Select(p => p.Package), Does.Not.Contain("rsync"));
    }
}
