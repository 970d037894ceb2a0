using Kiln.Kernel;
using Kiln.Kernel.Build;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Pipeline;
using Kiln.Tests.Build;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Pipeline;

/// <summary>
/// The build directory (O=) between Configure and make: one lock held from one to the other, a name that changes with
/// everything that changes its contents, a build.log that keeps what make printed if the run dies, and an --out that
/// a run clears of the previous run's kernel.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class BuildDirectoryTests
{
    private static readonly BuilderImage Image = new("kiln-builder:0123456789abcdef", "sha256:" + new string('a', 64), "20.10.24");

    private static KernelPipeline PipelineFor(string cache, params (string Name, string Value)[] arguments) =>
        new(KilnOptions.Parse(arguments.Append(("cache-dir", cache)).ToLookup(a => a.Item1, a => a.Item2), new Dictionary<string, string?>(), Repo.Root),
            new RecordingLog(), () => throw new AssertionException("no container engine is needed"));

    [Test]
    public void The_build_directory_is_named_by_its_base_config_without_changing_the_default_name()
    {
        using var dir = new TempDir();
        var baseFile = dir.File("my.config", "CONFIG_64BIT=y\n");
        string BuildDir(params (string, string)[] args) =>
            Path.GetFileName(Path.GetDirectoryName(PipelineFor(dir["cache"], args.Prepend(("kernel", "6.1")).ToArray()).BuildDirectory));

        Assert.That(BuildDir(), Is.EqualTo("6.1.192-x86_64"), "the default base config adds nothing to the name");
        Assert.That(BuildDir(("base-config", "tinyconfig")), Is.EqualTo("6.1.192-x86_64"));
        Assert.That(BuildDir(("base-config", "allnoconfig")), Is.EqualTo("6.1.192-x86_64-base-allnoconfig"));
        Assert.That(BuildDir(("base-config", "defconfig")), Is.EqualTo("6.1.192-x86_64-base-defconfig"));
        var fromFile = BuildDir(("base-config", baseFile));
        Assert.That(fromFile, Does.Match("^6\\.1\\.192-x86_64-base-file-[0-9a-f]{12}$"));
        File.WriteAllText(baseFile, "CONFIG_64BIT=y\nCONFIG_SMP=y\n");
        Assert.That(BuildDir(("base-config", baseFile)), Is.Not.EqualTo(fromFile), "a changed file makes a different .config");
    }

    /// <summary>
    /// Configure returns with the build directory's lock still held, and make runs under that same lock, which is free
    /// again once make ends: no other run can reconfigure the directory between this run's Configure and its make.
    /// </summary>
    [Test]
    public void One_lock_is_held_from_Configure_through_make()
    {
        using var dir = new TempDir();
        var pipeline = PipelineFor(dir["cache"], ("kernel", "6.1"));
        var source = dir.File("src/Makefile", "# kernel\n");
        dir.File("src/Kconfig", "");
        var buildDir = pipeline.BuildDirectory;
        dir.File(Path.Combine(buildDir, ".config"), "CONFIG_64BIT=y\n");
        // A configured, verified directory: Configure only takes the lock and finds it current.
        var options = pipeline.Options;
        ConfigureStamp.Write(buildDir, ConfigureStamp.InputsHash(dir["src"], KernelTarget.Fragments(options), options.BaseConfig,
            KernelTarget.AllowedDrops(options, pipeline.Target.Version)));
        var lockPath = pipeline.Target.Paths.BuildLock(buildDir);
        bool Held()
        {
            try
            {
                using var probe = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return false;
            }
            catch (IOException)
            {
                return true;
            }
        }

        var heldDuringMake = false;
        var engine = new FakeEngine { Behaviour = _ => { heldDuringMake = Held(); return 2; } };
        var host = new HostReady(BuildRuntime.InContainer(engine, Image, "0:0"), "/bin/busybox");
        var configured = pipeline.Configure(new Workspace(dir["src"], buildDir, "-1", dir["out/build.log"], Reconfigure: false, host));

        Assert.That(Held(), Is.True, "Configure keeps the lock for make");
        Assert.Throws<KilnException>(() => pipeline.Compile(configured));
        Assert.That(heldDuringMake, Is.True);
        Assert.That(Held(), Is.False, "make's end releases it, failed or not");
    }

    /// <summary>What make printed is in build.log while make still runs, so a run killed mid-build leaves it.</summary>
    [Test]
    public void Build_log_has_each_line_as_soon_as_make_prints_it()
    {
        using var dir = new TempDir();
        dir.File("src/Makefile", "# kernel\n");
        Directory.CreateDirectory(dir["build"]);
        string? logDuringMake = null;
        var engine = new FakeEngine
        {
            Behaviour = run =>
            {
                run.OnOutput!("  CC      init/main.o");
                run.OnOutput!("  CC      init/version.o");
                using (var reader = new StreamReader(new FileStream(dir["out/build.log"], FileMode.Open, FileAccess.Read, FileShare.ReadWrite)))
                    logDuringMake = reader.ReadToEnd();
                return 2;
            },
        };
        var request = new BuildRequest(dir["src"], dir["build"], Arch.X86_64, "-1", 2, dir["ccache"], dir["out/build.log"],
            Runtime: BuildRuntime.InContainer(engine, Image, "0:0"));
        Assert.Throws<KilnException>(() => KernelBuilder.Build(request, new RecordingLog()));
        Assert.That(logDuringMake, Is.EqualTo("  CC      init/main.o\n  CC      init/version.o\n"));
    }

    [Test]
    public void A_run_clears_the_previous_runs_kernel_from_out_but_nothing_else()
    {
        using var dir = new TempDir();
        var outDir = dir["out"];
        foreach (var name in new[] { "bzImage", "vmlinux", "System.map", "config", "kernel-headers.tar", "extra.bin", "notes.txt" })
            dir.File("out/" + name, name);
        dir.File("out/boot/results.json", "{}");
        var metadata = Kiln.Tests.Domain.CacheTrustTests.MetadataFor(new Kiln.Kernel.Identity.CacheIdentity("6.1.192-1", new string('1', 64)),
            new Dictionary<string, string> { ["bzImage"] = "x", ["extra.bin"] = "y", ["../escape"] = "z" });
        metadata.Write(Path.Combine(outDir, BuildMetadata.FileName));
        dir.File("escape", "outside --out");

        KernelCache.ClearExported(outDir, Arch.X86_64);

        Assert.That(Directory.GetFiles(outDir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "notes.txt" }));
        Assert.That(File.Exists(dir["out/boot/results.json"]), Is.True);
        Assert.That(File.Exists(dir["escape"]), Is.True, "a name in metadata.json never leaves --out");
        Assert.DoesNotThrow(() => KernelCache.ClearExported(dir["absent"], Arch.X86_64));
    }
}
