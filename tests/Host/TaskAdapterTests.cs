using Kiln.Kernel.Run;
using System.Reflection;
using Cake.Core;
using Kiln.Build;
using Kiln.Build.Hosting;
using Kiln.Build.Tasks;
using Kiln.Kernel.Analysis;
using Kiln.Kernel.Bisect;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Build;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.Patches;
using Kiln.Kernel.Pipeline;
using Kiln.Kernel.Reproduction;
using Kiln.Kernel.Sources;
using NUnit.Framework;

namespace Kiln.Tests.Host;

/// <summary>
/// Each task adapter against a fake pipeline: which stage it calls with which previous result, what it skips, and the
/// CI outputs it sets. The real stages run in tests/Integration (PipelineTests, BisectIntegrationTests, Arm64*).
/// </summary>
public class TaskAdapterTests
{
    private TempDir _dir = null!;
    private FakePipeline _pipeline = null!;
    private BuildContext _context = null!;
    private string _ciFile = null!;
    private StringWriter _stdout = null!;
    private KilnConsole _console = null!;
    private RecordingLog _progress = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir();
        _ciFile = Path.Combine(_dir.Path, "ci-output");
        _stdout = new StringWriter();
        _console = new KilnConsole(_stdout, new StringWriter(), color: false, redirected: true);
        var arguments = new[] { ("cache-dir", Path.Combine(_dir.Path, "cache")), ("out", Path.Combine(_dir.Path, "out")) }
            .ToLookup(a => a.Item1, a => a.Item2);
        var options = KilnOptions.Parse(arguments, new Dictionary<string, string?>(), Repo.Root);
        _pipeline = new FakePipeline(options, _dir.Path);
        _context = new BuildContext(NoCake.Create(), _pipeline, new KilnOutput(_progress = new RecordingLog(), _console, new[] { _ciFile }));
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private Dictionary<string, string> Ci() => File.Exists(_ciFile)
        ? File.ReadAllLines(_ciFile).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1])
        : new Dictionary<string, string>();

    [Test]
    public void Setup_acquires_and_reports_identity_and_cache_status()
    {
        new Setup().Run(_context);
        Assert.That(_pipeline.Calls, Is.EqualTo(new[] { "Acquire" }));
        Assert.That(_context.Acquired, Is.SameAs(_pipeline.AcquiredResult));
        Assert.That(Ci(), Is.EqualTo(new Dictionary<string, string> { ["identity"] = FakePipeline.IdentityHash, ["cache"] = "miss" }));
    }

    [Test]
    public void A_miss_patches_configures_and_builds_from_the_previous_results()
    {
        new Setup().Run(_context);
        Assert.That(new Patch().ShouldRun(_context) && new Configure().ShouldRun(_context), Is.True);
        new Patch().Run(_context);
        new Configure().Run(_context);
        new BuildKernel().Run(_context);
        Assert.That(_pipeline.Calls, Is.EqualTo(new[] { "Acquire", "Patch", "Configure", "Build" }));
        Assert.That(_pipeline.ConfiguredWorkspace, Is.SameAs(_context.Patched!.Workspace));
        var ci = Ci();
        Assert.That(ci["release"], Is.EqualTo("6.1.192-1"));
        Assert.That(ci["kernel_image"], Is.EqualTo(Path.Combine(_dir.Path, "out", "bzImage")));
        Assert.That(ci["metadata"], Is.EqualTo(Path.Combine(_dir.Path, "out", "metadata.json")));
    }

    [Test]
    public void A_cache_hit_skips_patch_and_configure_and_reuses_the_entry()
    {
        _pipeline.Hit = true;
        new Setup().Run(_context);
        Assert.That(new Patch().ShouldRun(_context), Is.False);
        Assert.That(new Configure().ShouldRun(_context), Is.False);
        new BuildKernel().Run(_context);
        Assert.That(_pipeline.Calls, Is.EqualTo(new[] { "Acquire", "Reuse" }));
        Assert.That(Ci()["cache"], Is.EqualTo("local"));
    }

    [Test]
    public void A_failed_boot_is_exit_1_with_its_results_reported_and_nothing_shared()
    {
        _pipeline.Hit = true;
        _pipeline.BootPasses = false;
        new Setup().Run(_context);
        new BuildKernel().Run(_context);
        var e = Assert.Throws<KilnException>(() => new BootTest().Run(_context))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.KernelFailed));
        Assert.That(e.Message, Does.Contain("release: wrong release"));
        Assert.That(Ci()["boot_result"], Is.EqualTo("fail"));
        Assert.That(Ci(), Does.ContainKey("serial_log"));
        Assert.That(_pipeline.Calls, Has.No.Member("Share"));
    }

    [Test]
    public void Reproduce_on_a_cache_hit_leaves_patching_to_the_stage_and_passes_when_every_artifact_is_the_same()
    {
        _pipeline.Hit = true;
        new Setup().Run(_context);
        new BuildKernel().Run(_context);
        new Reproduce().Run(_context);
        Assert.That(_pipeline.Calls, Is.EqualTo(new[] { "Acquire", "Reuse", "Reproduce" }));
        Assert.That(_stdout.ToString(), Does.Contain("bzImage").And.Contain("same"));
        Assert.That(_progress.Lines, Has.Some.Contains("REPRODUCIBLE: Linux 6.1.192-1: all 2 artifacts"));
    }

    [Test]
    public void Reproduce_is_exit_1_naming_the_differing_files_and_sections()
    {
        _pipeline.Hit = true;
        _pipeline.Reproducible = false;
        new Setup().Run(_context);
        new BuildKernel().Run(_context);
        var e = Assert.Throws<KilnException>(() => new Reproduce().Run(_context))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.KernelFailed));
        Assert.That(e.Message, Does.Contain("bzImage; vmlinux (sections .rodata) differ from a rebuild from nothing"));
        Assert.That(_stdout.ToString(), Does.Contain("DIFFERENT").And.Contain("section .rodata"));
    }

    [Test]
    public void A_passing_boot_is_shared_and_says_so()
    {
        _pipeline.Hit = true;
        new Setup().Run(_context);
        new BuildKernel().Run(_context);
        new BootTest().Run(_context);
        Assert.That(_pipeline.Calls, Is.EqualTo(new[] { "Acquire", "Reuse", "Boot", "Share" }));
        Assert.That(Ci()["boot_result"], Is.EqualTo("pass"));
        Assert.That(Ci()["pushed"], Is.EqualTo("true"));
    }

    [Test]
    public void CacheKey_reports_key_and_input_hash_from_the_lock_check()
    {
        new CacheKey().Run(_context);
        Assert.That(_pipeline.Calls, Is.EqualTo(new[] { "CheckLock" }));
        var expected = new Dictionary<string, string>
            { ["key"] = _pipeline.Target.CacheKey, ["input_hash"] = _pipeline.Target.Recipe.Hash, ["lock"] = "Current" };
        Assert.That(Ci(), Is.EqualTo(expected));
        // stdout carries the same names as the CI output, one name=value per line.
        Assert.That(_stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(expected.Select(e => $"{e.Key}={e.Value}")));
    }

    [Test]
    public void A_boot_table_goes_through_the_output_channel()
    {
        _pipeline.Hit = true;
        new Setup().Run(_context);
        new BuildKernel().Run(_context);
        new BootTest().Run(_context);
        Assert.That(_stdout.ToString(), Does.Contain("Check").And.Contain("pass"));
    }

    [Test]
    public void ConfigDiff_compares_through_the_pipeline_and_prints_the_diff()
    {
        _pipeline.Hit = true;
        new Setup().Run(_context);
        new Kiln.Build.Tasks.ConfigDiff().Run(_context);
        // Patch was skipped on the cache hit: the pipeline patches and configures for the diff itself.
        Assert.That(_pipeline.Calls, Is.EqualTo(new[] { "Acquire", "CompareConfig" }));
        Assert.That(_pipeline.ComparedPatched, Is.Null);
        Assert.That(_stdout.ToString(), Does.Contain("Config diff, Kiln's ").And.Contain("  + CONFIG_EXPERT=y"));
        Assert.That(_progress.Lines, Has.Some.EqualTo("info: Report: " + _pipeline.Target.Paths.ConfigDiff));
    }

    [Test]
    public void ConfigDiff_shows_the_diff_then_fails_as_Configure_does_when_options_dropped()
    {
        _pipeline.VerificationFails = true;
        new Setup().Run(_context);
        new Patch().Run(_context);
        var e = Assert.Throws<KilnException>(() => new Kiln.Build.Tasks.ConfigDiff().Run(_context))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.KernelFailed));
        Assert.That(_pipeline.ComparedPatched, Is.SameAs(_context.Patched));
        Assert.That(_stdout.ToString(), Does.Contain("  + CONFIG_EXPERT=y"), "the diff is shown before the failure");
    }

    [Test]
    public void A_task_that_runs_before_its_producer_is_an_internal_error()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new BootTest().Run(_context))!;
        Assert.That(e.Message, Does.Contain("BuildKernel did not run"));
        Assert.That(ExitCodes.For(e), Is.Null);
    }

    [Test]
    public void Tasks_hold_no_configure_build_or_boot_logic()
    {
        // Only the pipeline drives the kernel's tools; a task that reached for them would be a second pipeline.
        var forbidden = new[] { "KernelConfigurator", "KernelBuilder", "BootTester", "CacheLock", "KernelCache", "PatchApplier", "Prerequisites", "new Skopeo" };
        foreach (var file in Directory.GetFiles(Path.Combine(Repo.Root, "build", "Tasks"), "*.cs"))
        {
            var text = File.ReadAllText(file);
            Assert.That(forbidden.Where(text.Contains), Is.Empty, file);
            // One output channel: tasks write through context.Output, never to the console themselves.
            Assert.That(new[] { "Console.", "AnsiConsole" }.Where(text.Contains), Is.Empty, file);
        }
    }

    /// <summary>Canned stage results; records which stage ran.</summary>
    private sealed class FakePipeline(KilnOptions options, string dir) : IKernelPipeline
    {
        public const string IdentityHash = "1111111111111111111111111111111111111111111111111111111111111111";
        public List<string> Calls { get; } = new();
        public bool Hit { get; set; }
        public bool BootPasses { get; set; } = true;
        public bool VerificationFails { get; set; }
        public Acquired? AcquiredResult { get; private set; }
        public Patched? ComparedPatched { get; private set; }
        public Workspace? ConfiguredWorkspace { get; private set; }

        public KilnOptions Options { get; } = options;
        public KernelTarget Target { get; } = KernelTarget.Resolve(options);

        private CachedKernel Kernel()
        {
            var metadata = new BuildMetadata("6.1.192-1", IdentityHash, "r", "6.1.192", "6.1.192-1", "x86_64", "", "tinyconfig",
                new SourceProvenance("debian", "6.1.192", "linux-source-6.1", new string('2', 64)), new Dictionary<string, string>(),
                new Dictionary<string, double>(), new Dictionary<string, string> { ["bzImage"] = new string('3', 64) }, [], []);
            return new CachedKernel(Path.Combine(dir, "entry"), metadata);
        }

        public Acquired Acquire()
        {
            Calls.Add("Acquire");
            var source = VerifiedSource.Unpacked(new SourceTree(Path.Combine(dir, "src"), Target.Version, new SourceProvenance("debian", "6.1.192", "o", new string('2', 64)), Reused: true));
            return AcquiredResult = new Acquired(new HostReady(BuildRuntime.Host, "/bin/busybox"), source, new CacheIdentity("6.1.192-1", IdentityHash),
                Hit ? Kernel() : null, Hit ? "local" : "miss");
        }

        public Patched Patch(Acquired acquired)
        {
            Calls.Add("Patch");
            return new Patched(acquired, new PatchedTree(Path.Combine(dir, "tree"), "s", [], Reused: true),
                new Workspace(Path.Combine(dir, "tree"), Path.Combine(dir, "build"), "-1", Path.Combine(dir, "build.log"), false, acquired.Host));
        }

        public Configured Configure(Workspace workspace, CancellationToken cancellation = default)
        {
            Calls.Add("Configure");
            ConfiguredWorkspace = workspace;
            return new Configured(workspace, KernelTarget.Fragments(Options), TimeSpan.FromSeconds(1));
        }

        public Built Build(Patched patched, Configured configured)
        {
            Calls.Add("Build");
            return new Built(patched.Acquired, Kernel(), false, Target.Paths.OutDir);
        }

        public Built Reuse(Acquired acquired)
        {
            Calls.Add("Reuse");
            return new Built(acquired, acquired.Cached!, true, Target.Paths.OutDir);
        }

        public Booted Boot(Built built)
        {
            Calls.Add("Boot");
            var boot = Path.Combine(dir, "boot");
            var check = BootPasses ? new BootCheck("release", true, "6.1.192-1", TimeSpan.Zero) : new BootCheck("release", false, "wrong release", TimeSpan.Zero);
            return new Booted(built, new BootTestResult
            {
                Spec = new BootTestSpec { KernelPath = "k", OutputDirectory = boot },
                Checks = [check],
                Machine = MachineSetup.Default(Kiln.Kernel.Arch.X86_64),
                Qemu = new QemuRunResult("qemu", Accelerator.Tcg, TimeSpan.FromSeconds(120), false, 0, TimeSpan.FromSeconds(2), Path.Combine(boot, "serial.log"), []),
                Log = new BootLogAnalysis([], 1.2, 1.5),
                Nonce = "n",
                Release = "6.1.192-1",
                SerialLogPath = Path.Combine(boot, "serial.log"),
                ReportPath = Path.Combine(boot, "report"),
                ResultsJsonPath = Path.Combine(boot, "results.json"),
                JUnitPath = Path.Combine(boot, "junit.xml"),
            });
        }

        public bool? Share(Booted booted)
        {
            Calls.Add("Share");
            return true;
        }

        public Packaged Package(Booted booted) => throw new NotSupportedException("not used by these tests");
        public LockCheck CheckLock(Action<LockCheck> report)
        {
            Calls.Add("CheckLock");
            var check = new LockCheck(LockStatus.Current, []);
            report(check);
            return check;
        }
        public AnalysisResult Analyze(Acquired acquired, Patched? patched) => throw new NotSupportedException("not used by these tests");

        public ConfigCompared CompareConfig(Acquired acquired, Patched? patched)
        {
            Calls.Add("CompareConfig");
            ComparedPatched = patched;
            var tree = Path.Combine(dir, "kconfig");
            Directory.CreateDirectory(tree);
            File.WriteAllText(Path.Combine(tree, "Kconfig"), "config EXPERT\n\tbool \"Expert mode\"\n");
            var diff = Kiln.Kernel.Config.ConfigDiff.Compare(KernelConfig.Parse("CONFIG_EXPERT=y\n"), "Kiln's .config",
                KernelConfig.Parse("# CONFIG_EXPERT is not set\n"), "old.config", KconfigIndex.Load(tree, "x86"));
            return new ConfigCompared(diff, Path.Combine(dir, "build", ".config"), "old.config", Target.Paths.ConfigDiff,
                VerificationFails ? KilnException.KernelFailed("1 of 2 requested config options are not in the final .config") : null);
        }
        public BisectSessionResult Bisect(Func<string, IReadOnlyList<string>> stepCommand) => throw new NotSupportedException("not used by these tests");
        public StepRecord BisectStep(BisectPlan plan) => throw new NotSupportedException("not used by these tests");
        public Kiln.Kernel.ConfigSearch.ConfigBisectResult ConfigBisect(Acquired acquired, Patched? patched) => throw new NotSupportedException("not used by these tests");
        public Kiln.Kernel.ConfigSearch.MinConfigResult MinConfig(Acquired acquired, Patched? patched) => throw new NotSupportedException("not used by these tests");
        public GuestSessionResult Session(Built built, Stream output, Stream error) => throw new NotSupportedException("not used by these tests");
        public Kiln.Kernel.Kselftest.KselftestOutcome Kselftest(Built built, Stream output, Stream error) => throw new NotSupportedException("not used by these tests");

        public bool Reproducible { get; set; } = true;
        public ReproduceReport Reproduce(Built built)
        {
            Calls.Add("Reproduce");
            var sha = new string('3', 64);
            var files = new[]
            {
                new FileComparison("bzImage", sha, Reproducible ? sha : new string('4', 64), Reproducible ? [] : ["first difference at byte 4096"], [], null),
                new FileComparison("vmlinux", sha, Reproducible ? sha : new string('5', 64),
                    Reproducible ? [] : ["section .rodata: 100 bytes, contents differ, first at +0x10"], Reproducible ? [] : [".rodata"], null),
            };
            var place = new RebuildPlace(Path.Combine(dir, "copy"), Path.Combine(dir, "o"), Path.Combine(dir, "build.log"), new RebuildDisguise(65534, "h", "+1096d"));
            return new ReproduceReport(built.Kernel, files, place, "65534 h 2029-12-01", TimeSpan.FromMinutes(9), Path.Combine(dir, "reproduce"));
        }
    }

    /// <summary>A Cake context for adapters that never touch Cake: any call fails the test.</summary>
    private class NoCake : DispatchProxy
    {
        public static ICakeContext Create() => DispatchProxy.Create<ICakeContext, NoCake>();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            throw new AssertionException($"the task used Cake's {targetMethod?.Name}");
    }
}
