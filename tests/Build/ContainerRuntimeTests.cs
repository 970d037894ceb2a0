using Kiln.Kernel;
using Kiln.Build.Tools.Docker;
using Kiln.Kernel.Build;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Identity;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Versions;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Build;

/// <summary>A container engine that records what it was asked to run and plays back a scripted container.</summary>
internal sealed class FakeEngine : IContainerEngine
{
    public Dictionary<string, string> Images { get; } = new();
    public List<ContainerRun> Runs { get; } = new();
    /// <summary>What the "container" does: writes to its callbacks, returns its exit code.</summary>
    public Func<ContainerRun, int> Behaviour { get; set; } = _ => 0;

    public string Name => "docker";
    public string ServerVersion() => "20.10.24";
    public string? ImageId(string reference) => Images.GetValueOrDefault(reference);
    public void Import(string tarball, string reference, string message) => throw new AssertionException("no image should be made here");

    public int Run(ContainerRun run, CancellationToken cancellation = default)
    {
        Runs.Add(run);
        return Behaviour(run);
    }
}

public class BuilderImageRecipeTests
{
    [Test]
    public void TagIgnoresCommentsBlankLinesOrderSpacingAndRepeats()
    {
        var a = new BuilderImageRecipe("bookworm", BuilderImageRecipe.DefaultMirror, BuilderImageRecipe.ParsePackages("gcc\nmake\nflex\n"));
        var b = new BuilderImageRecipe("bookworm", BuilderImageRecipe.DefaultMirror + "/",
            BuilderImageRecipe.ParsePackages("# the compiler\n\n  flex  \r\nmake # kbuild\ngcc\n\tgcc\n"));
        Assert.That(b.Packages, Is.EqualTo(new[] { "flex", "gcc", "make" }));
        Assert.That(b.Reference, Is.EqualTo(a.Reference));
        Assert.That(a.Reference, Does.Match("^kiln-builder:[0-9a-f]{16}$"));
    }

    [Test]
    public void TagChangesWithThePackagesTheSuiteAndTheMirror()
    {
        var packages = new[] { "flex", "gcc", "make" };
        var recipe = new BuilderImageRecipe("bookworm", BuilderImageRecipe.DefaultMirror, packages);
        Assert.That(recipe with { Packages = packages.Append("bc").ToList() }, Has.Property("Reference").Not.EqualTo(recipe.Reference));
        Assert.That(recipe with { Suite = "trixie" }, Has.Property("Reference").Not.EqualTo(recipe.Reference));
        Assert.That(recipe with { Mirror = "http://mirror.example/debian" }, Has.Property("Reference").Not.EqualTo(recipe.Reference));
    }

    [Test]
    public void TheRepositoryListHasWhatKernelBuildsNeed()
    {
        var recipe = BuilderImageRecipe.Load(Path.Combine(Repo.Root, BuilderImageRecipe.PackagesFile));
        Assert.That(recipe.Packages, Is.SupersetOf(new[] { "build-essential", "bc", "bison", "flex", "libelf-dev", "libssl-dev", "ccache", "gcc-aarch64-linux-gnu" }));
        Assert.That(recipe.Suite, Is.EqualTo("bookworm"));
    }

    [Test]
    public void AnEmptyListIsBadInput()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<KilnException>(() => BuilderImageRecipe.Load(dir.File("packages", "# nothing\n")))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
    }

    [Test]
    public void AnExistingImageIsReusedWithoutDebootstrap()
    {
        using var cache = new TempDir();
        var recipe = new BuilderImageRecipe("bookworm", BuilderImageRecipe.DefaultMirror, new[] { "gcc" });
        var engine = new FakeEngine();
        engine.Images[recipe.Reference] = "sha256:" + new string('1', 64);
        var image = BuilderImageFactory.Ensure(engine, recipe, cache.Path, new RecordingLog());
        Assert.That(image, Is.EqualTo(new BuilderImage(recipe.Reference, "sha256:" + new string('1', 64), "20.10.24")));
    }

    [Test]
    public void AnUnreachableMirrorIsInfrastructureAndLeavesNoStagingBehind()
    {
        Prerequisite.Require(Prerequisites.OnPath("debootstrap") && HostUser.Current().StartsWith("0:", StringComparison.Ordinal),
            "needs debootstrap and root");
        using var cache = new TempDir();
        var recipe = new BuilderImageRecipe("bookworm", "http://127.0.0.1:9/debian", new[] { "gcc" });
        var abandoned = Directory.CreateDirectory(Path.Combine(cache.Path, "builder", recipe.Hash[..16] + ".tmp-killed")).FullName;

        var e = Assert.Throws<KilnException>(() => BuilderImageFactory.Ensure(new FakeEngine(), recipe, cache.Path, new RecordingLog()))!;

        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(e.Message, Does.Contain("http://127.0.0.1:9/debian"));
        Assert.That(Directory.GetFileSystemEntries(Path.Combine(cache.Path, "builder")), Is.Empty, $"{abandoned} and this run's staging are gone");
    }

    [Test]
    public void DebootstrapFailuresBlameTheMirrorOrThePackageList()
    {
        var recipe = new BuilderImageRecipe("bookworm", "http://mirror.invalid/debian", new[] { "gcc", "no-such-package" });
        var network = BuilderImageFactory.DescribeFailure(recipe, new[] { "I: Retrieving InRelease", "E: Failed getting release file http://mirror.invalid/debian/dists/bookworm/Release" });
        Assert.That(network.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(network.Message, Does.Contain("http://mirror.invalid/debian").And.Contain("--builder-mirror"));
        var unknown = BuilderImageFactory.DescribeFailure(recipe, new[] { "E: Couldn't find these debs: no-such-package" });
        Assert.That(unknown.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(unknown.Message, Does.Contain("no-such-package").And.Contain(BuilderImageRecipe.PackagesFile));
    }
}

public class BuildRuntimeTests
{
    private static readonly BuilderImage Image = new("kiln-builder:0123456789abcdef", "sha256:" + new string('a', 64), "20.10.24");

    [Test]
    public void MountsAreThePathsThemselvesWithoutNestedOnesPlusLinkTargets()
    {
        using var dir = new TempDir();
        var cache = dir["cache"];
        var shared = dir["shared-ccache"];
        Directory.CreateDirectory(Path.Combine(cache, "build"));
        Directory.CreateDirectory(shared);
        Directory.CreateSymbolicLink(Path.Combine(cache, "ccache"), shared);

        var mounts = BuildRuntime.MountsFor(new[] { Path.Combine(cache, "build") + "/", cache, Path.Combine(cache, "ccache") });

        Assert.That(mounts, Is.EqualTo(new[] { cache, shared }), "the link lives in a mounted directory, its target does not");
    }

    [Test]
    public void AContainerRunGetsTheCommandItsEnvironmentTheUserAndTheMounts()
    {
        var engine = new FakeEngine
        {
            Behaviour = run =>
            {
                run.OnOutput!("gcc (Debian 12.2.0-14+deb12u1) 12.2.0");
                run.OnOutput!("Copyright (C) 2022 Free Software Foundation, Inc.");
                return 0;
            },
        };
        using var dir = new TempDir();
        var (src, build) = (dir["src"], dir["build"]);
        var runtime = BuildRuntime.InContainer(engine, Image, "1000:1000");
        var command = new Command("make", "-C", src, "O=" + build, "CC=ccache gcc") { WorkingDirectory = build };
        command.Environment["KBUILD_BUILD_USER"] = "kiln";
        command.Environment["CCACHE_PREFIX"] = null;

        var result = runtime.Run(command, new[] { src, build }, new RecordingLog());

        var run = engine.Runs.Single();
        Assert.That(run.Image, Is.EqualTo(Image.Id), "by content ID, so a re-tagged image cannot slip in");
        Assert.That(run.Program, Is.EqualTo("make"));
        Assert.That(run.Arguments, Is.EqualTo(new[] { "-C", src, "O=" + build, "CC=ccache gcc" }));
        Assert.That(run.Environment, Is.EqualTo(new Dictionary<string, string> { ["KBUILD_BUILD_USER"] = "kiln" }), "an unset variable is simply not passed");
        Assert.That(run.User, Is.EqualTo("1000:1000"));
        Assert.That(run.Mounts, Is.EqualTo(new[] { src, build }).AsCollection);
        Assert.That(Directory.Exists(src) && Directory.Exists(build), "missing mounts are made by the user, not by dockerd as root");
        Assert.That(run.WorkingDirectory, Is.EqualTo(build));
        Assert.That(result.StandardOutput, Does.StartWith("gcc (Debian 12.2.0-14+deb12u1) 12.2.0"));
    }

    [Test]
    public void TheCompilerIsDescribedFromInsideTheImage()
    {
        var engine = new FakeEngine { Behaviour = run => { run.OnOutput!("aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0"); return 0; } };
        var description = BuildRuntime.InContainer(engine, Image, "0:0").DescribeCompiler(Kiln.Kernel.Arch.Arm64, Kiln.Kernel.Toolchain.Gcc, new RecordingLog());
        Assert.That(description, Is.EqualTo("aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0"));
        Assert.That(engine.Runs.Single().Program, Is.EqualTo("aarch64-linux-gnu-gcc"));
    }

    [Test]
    public void AFailureInsideIsTheCommandsFailureAndAnEngineFailureIsInfrastructure()
    {
        var engine = new FakeEngine { Behaviour = run => { run.OnError!("make: *** [Makefile:2] Error 2"); return 2; } };
        var runtime = BuildRuntime.InContainer(engine, Image, "0:0");
        var failed = Assert.Throws<CommandFailedException>(() => runtime.Run(new Command("make", "olddefconfig") { Purpose = "make olddefconfig" }, Array.Empty<string>(), new RecordingLog()))!;
        Assert.That(failed.Result.ExitCode, Is.EqualTo(2));
        Assert.That(failed.Message, Does.StartWith("make olddefconfig failed with exit code 2").And.Contain("Error 2"));

        engine.Behaviour = run => { run.OnError!("docker: Error response from daemon: invalid mount config"); return 125; };
        var infrastructure = Assert.Throws<KilnException>(() => runtime.Run(new Command("make", "olddefconfig"), Array.Empty<string>(), new RecordingLog()))!;
        Assert.That(infrastructure.ExitCode, Is.EqualTo(ExitCodes.Infrastructure));
        Assert.That(infrastructure.Message, Does.Contain("invalid mount config"));
    }

    [Test]
    public void AKernelBuildFailingInTheContainerReportsLikeAHostBuild()
    {
        using var dir = new TempDir();
        dir.File("src/Makefile", "# kernel\n");
        Directory.CreateDirectory(dir["build"]);
        var engine = new FakeEngine
        {
            Behaviour = run =>
            {
                run.OnOutput!("  CC      init/main.o");
                run.OnError!("../src/init/main.c:42:5: error: 'foo' undeclared (first use in this function)");
                run.OnError!("make[3]: *** [scripts/Makefile.build:250: init/main.o] Error 1");
                return 2;
            },
        };
        var request = new BuildRequest(dir["src"], dir["build"], Kiln.Kernel.Arch.X86_64, "-1", 2, dir["ccache"], dir["out/build.log"],
            Runtime: BuildRuntime.InContainer(engine, Image, "0:0"));

        var e = Assert.Throws<KilnException>(() => KernelBuilder.Build(request, new RecordingLog()))!;

        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.KernelFailed));
        Assert.That(e.Message, Does.Contain("init/main.c").And.Contain("'foo' undeclared"));
        Assert.That(File.ReadAllText(dir["out/build.log"]), Does.Contain("CC      init/main.o"), "the container's output reaches build.log");
        var run = engine.Runs.Single();
        Assert.That(run.Mounts, Is.EquivalentTo(new[] { dir["src"], dir["build"], dir["ccache"] }));
        Assert.That(run.Environment["CCACHE_DIR"], Is.EqualTo(dir["ccache"]));
        Assert.That(run.Environment["CCACHE_DEPEND"], Is.EqualTo("1"), "depend mode: no second preprocessor run on a miss");
        Assert.That(run.Environment, Does.ContainKey("KBUILD_BUILD_TIMESTAMP"));
        // ccache hashes these: the container must see the host build's locale, whatever the user's is.
        Assert.That(run.Environment["LANG"], Is.EqualTo("C"));
        Assert.That(run.Environment["LC_ALL"], Is.EqualTo("C"));
        Assert.That(run.Environment.Keys, Has.None.EqualTo("LC_CTYPE").And.None.EqualTo("LC_MESSAGES"));
    }

    [Test]
    public void TheRuntimeAndItsImageJoinTheCacheIdentityButTheHostKeepsItsHash()
    {
        using var repo = new TempDir();
        repo.File("configs/fragments/common/a.conf", "CONFIG_A=y\n");
        var recipe = BuildRecipe.Collect(repo.Path, new KernelVersion(6, 1, 192), "x86_64", "");
        CacheIdentity For(BuildRuntime runtime) =>
            CacheIdentity.For(recipe, 1, new string('a', 64), "gcc 12.2.0", "tinyconfig", runtime.IdentityText);

        var host = For(BuildRuntime.Host);
        var docker = For(BuildRuntime.InContainer(new FakeEngine(), Image, "0:0"));
        var rebuiltImage = For(BuildRuntime.InContainer(new FakeEngine(), Image with { Id = "sha256:" + new string('b', 64) }, "0:0"));

        Assert.That(host, Is.EqualTo(CacheIdentity.For(recipe, 1, new string('a', 64), "gcc 12.2.0", "tinyconfig")), "host identities predate runtimes");
        Assert.That(docker.Hash, Is.Not.EqualTo(host.Hash));
        Assert.That(rebuiltImage.Hash, Is.Not.EqualTo(docker.Hash), "a rebuilt image may hold other package versions");
        Assert.That(docker.Key, Is.EqualTo(host.Key), "the human cache key stays 6.1.192-1");
    }

    [Test]
    public void MetadataRecordsTheRuntime()
    {
        Assert.That(BuildRuntime.Host.Metadata, Is.EqualTo(new RuntimeMetadata("host")));
        Assert.That(BuildRuntime.InContainer(new FakeEngine(), Image, "0:0").Metadata,
            Is.EqualTo(new RuntimeMetadata("docker") { Image = Image.Reference, ImageId = Image.Id, EngineVersion = "20.10.24" }));
    }

    [Test]
    public void DockerRuntimeNeedsTheClientAndDebootstrap()
    {
        var packages = Prerequisites.For(Kiln.Kernel.Arch.X86_64, docker: true).Select(p => p.Package);
        Assert.That(packages, Is.SupersetOf(new[] { "docker.io", "debootstrap" }));
        Assert.That(Prerequisites.For(Kiln.Kernel.Arch.X86_64).Select(p => p.Package), Has.None.EqualTo("docker.io"));
    }
}

public class DockerToolTests
{
    [Test]
    public void RunRendersEverySettingBeforeTheImageAndQuotesValues()
    {
        var run = new ContainerRun("sha256:abc", "make", new[] { "-C", "/src", "CC=ccache gcc", "bzImage" }, new[] { "/src", "/cache" },
            new Dictionary<string, string> { ["TZ"] = "UTC", ["KBUILD_BUILD_TIMESTAMP"] = "2025-01-02 03:04:05 UTC" }, "0:0")
        {
            Name = "kiln-build-1",
            WorkingDirectory = "/cache",
        };

        var rendered = DockerRunner.Render(DockerEngine.SettingsFor(run), run.Image, run.Program, run.Arguments).Render();

        Assert.That(rendered, Is.EqualTo(
            "run --rm --name \"kiln-build-1\" --user \"0:0\" --network \"none\" --volume \"/src:/src\" --volume \"/cache:/cache\" " +
            "--env \"KBUILD_BUILD_TIMESTAMP=2025-01-02 03:04:05 UTC\" --env \"TZ=UTC\" --workdir \"/cache\" " +
            "\"sha256:abc\" \"make\" \"-C\" \"/src\" \"CC=ccache gcc\" \"bzImage\""));
    }

    [Test]
    public void ImageCommandsRender()
    {
        Assert.That(DockerImageInspector.Render(new DockerImageInspectSettings { Format = "{{.Id}}" }, "kiln-builder:0123").Render(),
            Is.EqualTo("image inspect --format \"{{.Id}}\" \"kiln-builder:0123\""));
        Assert.That(DockerImporter.Render(new DockerImportSettings { Message = "Kiln builder" }, "/tmp/rootfs.tar", "kiln-builder:0123").Render(),
            Is.EqualTo("import --message \"Kiln builder\" \"/tmp/rootfs.tar\" \"kiln-builder:0123\""));
        Assert.That(DockerVersionTool.Render(new DockerVersionSettings { Format = "{{.Server.Version}}" }).Render(),
            Is.EqualTo("version --format \"{{.Server.Version}}\""));
        Assert.That(DockerRemover.Render(new DockerRemoveSettings { Force = true }, "kiln-build-1").Render(), Is.EqualTo("rm --force \"kiln-build-1\""));
    }
}
