using Kiln.Kernel;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;
using Kiln.Tests.Config;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Domain;

/// <summary>Options from explicit arguments and an explicit environment: the process's own never leaks in.</summary>
public class KilnOptionsTests
{
    private static readonly string Root = TestPaths.RepositoryRoot;

    private static KilnOptions Parse(IReadOnlyDictionary<string, string?>? environment, params (string Name, string Value)[] arguments) =>
        KilnOptions.Parse(arguments.ToLookup(a => a.Name, a => a.Value), environment ?? new Dictionary<string, string?>(), Root);

    [Test]
    public void Defaults_without_arguments_or_environment()
    {
        var options = Parse(null);
        Assert.That(options.Arch, Is.SameAs(Arch.X86_64));
        Assert.That((options.Variant, options.Source, options.Runtime, options.BaseConfig, options.KataPrefix), Is.EqualTo(("", "auto", "host", "tinyconfig", "/usr")));
        Assert.That(options.Kernel, Is.Null);
        Assert.That(options.DistccFarm, Is.Null);
        Assert.That(options.CiOutputFiles, Is.Empty);
        Assert.That(options.MayInstall, Is.False);
        Assert.That(options.Jobs, Is.EqualTo(Environment.ProcessorCount));
    }

    [Test]
    public void Arguments_win_over_the_environment_and_the_environment_over_defaults()
    {
        var env = new Dictionary<string, string?>
        {
            ["KILN_MIRROR"] = "http://env/", ["KILN_CACHE_DIR"] = "/env/cache", ["KILN_RUNTIME"] = "docker",
            ["KILN_CACHE_REGISTRY_USER"] = "u", ["KILN_CACHE_REGISTRY_PASSWORD"] = "p", ["GITHUB_OUTPUT"] = "/gh/out", ["KILN_CI_OUTPUT"] = "",
        };
        var options = Parse(env, ("mirror", "http://arg/"), ("arch", "arm64"), ("jobs", "3"), ("no-cache", "true"));
        Assert.That(options.Mirror, Is.EqualTo("http://arg/"));
        Assert.That(options.CacheDir, Is.EqualTo("/env/cache"));
        Assert.That(options.Runtime, Is.EqualTo("docker"));
        Assert.That(options.Arch, Is.SameAs(Arch.Arm64));
        Assert.That((options.RequestedJobs, options.Jobs, options.NoCache), Is.EqualTo((3, 3, true)));
        Assert.That(options.RegistryCredentials, Is.EqualTo(new Kiln.Kernel.RemoteCache.RegistryCredentials("u", "p")));
        Assert.That(options.CiOutputFiles, Is.EqualTo(new[] { "/gh/out" }), "an empty KILN_CI_OUTPUT is unset");
        Assert.That(options.IsGiven(nameof(KilnOptions.Arch)), Is.True);
        Assert.That(options.IsGiven(nameof(KilnOptions.Kernel)), Is.False);
    }

    [Test]
    public void Repeatable_arguments_keep_every_value_and_flags_read_false()
    {
        using var dir = new TempDirectory();
        var a = Path.Combine(dir.Path, "a.sh");
        var b = Path.Combine(dir.Path, "b.sh");
        File.WriteAllText(a, "");
        File.WriteAllText(b, "");
        var options = Parse(null, ("test", a), ("test", b), ("install-deps", "false"), ("patches", "true"));
        Assert.That(options.Tests, Is.EqualTo(new[] { a, b }));
        Assert.That((options.InstallDeps, options.BisectPatches), Is.EqualTo((false, true)));
        Assert.That(KilnOptions.Parse(Enumerable.Empty<string>().ToLookup(x => x), new Dictionary<string, string?>(), Root, isRoot: true).MayInstall, Is.True);
    }

    [TestCase("arch", "sparc", "--arch=sparc: unknown architecture")]
    [TestCase("toolchain", "icc", "--toolchain=icc: unknown toolchain. Supported: gcc, clang.")]
    [TestCase("jobs", "0", "--jobs=0: expected a positive whole number")]
    [TestCase("timeout", "soon", "--timeout=soon")]
    [TestCase("variant", "nosuch", "--variant=nosuch: there is no configs/fragments/")]
    [TestCase("runtime", "podman", "--runtime=podman: unknown runtime")]
    [TestCase("distcc-hosts", "+zeroconf", "zeroconf")]
    [TestCase("test", "/no/such/script.sh", "--test=/no/such/script.sh: no such file")]
    [TestCase("cache-registry", "not a registry", "--cache-registry=not a registry")]
    [TestCase("build-type", "fast", "--build-type=fast: there is no")]
    [TestCase("build-type", "../debug", "--build-type=../debug: expected a folder name")]
    [TestCase("conf-guest", "confidential", "--conf-guest=confidential: there are no fragments in")]
    [TestCase("against", "/no/such/old.config", "--against=/no/such/old.config: no such file")]
    [TestCase("jobs", "1025", "--jobs=1025: expected a positive whole number from 1 to 1024")]
    [TestCase("jobs", "99999999999", "--jobs=99999999999: expected a positive whole number from 1 to 1024")]
    [TestCase("timeout", "999999999", "--timeout=999999999: expected a positive whole number from 1 to 86400")]
    [TestCase("smp", "\u0662", "--smp=\u0662: expected a positive whole number")]
    [TestCase("variant", "/tmp/x", "--variant=/tmp/x: expected a name")]
    [TestCase("variant", "../debug", "--variant=../debug: expected a name")]
    [TestCase("variant", "DBG", "--variant=DBG: expected a name")]
    [TestCase("mirror", "file:///srv/mirror/", "--mirror=file:///srv/mirror/: expected an http:// or https:// URL")]
    [TestCase("mirror", "ftp://ftp.kernel.org/pub/", "--mirror=ftp://ftp.kernel.org/pub/: expected an http:// or https:// URL")]
    [TestCase("mirror", "notaurl", "--mirror=notaurl: expected an http:// or https:// URL")]
    [TestCase("out", "/proc/kiln", "--out=/proc/kiln: /proc is a kernel pseudo-filesystem")]
    [TestCase("cache-dir", "/proc", "--cache-dir=/proc: /proc is a kernel pseudo-filesystem")]
    [TestCase("cache-dir", "/sys/kiln", "--cache-dir=/sys/kiln: /sys is a kernel pseudo-filesystem")]
    [TestCase("ci-output", "/tmp", "--ci-output=/tmp: this is a directory")]
    [TestCase("test", "/tmp", "--test=/tmp: this is a directory")]
    [TestCase("repeat", "0", "--repeat=0: expected a positive whole number from 1 to 100")]
    [TestCase("rwdir", "/tmp/kiln-rw", "--rwdir=/tmp/kiln-rw is shared with the --test scripts; give at least one --test=FILE")]
    [TestCase("matrix-arches", "x86_64,sparc", "--matrix-arches=x86_64,sparc: unknown architecture 'sparc'. Supported: x86_64, arm64, s390x, ppc64le, riscv64.")]
    [TestCase("matrix-arches", " , ", "--matrix-arches= , : name at least one architecture. Supported:")]
    [TestCase("matrix-toolchains", "gcc,icc", "--matrix-toolchains=gcc,icc: unknown toolchain 'icc'. Supported: gcc, clang.")]
    public void A_bad_value_is_exit_2_naming_the_option(string name, string value, string message)
    {
        var e = Assert.Throws<KilnException>(() => Parse(null, (name, value)))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain(message));
    }

    [TestCase("out")]
    [TestCase("cache-dir")]
    [TestCase("destdir")]
    public void A_directory_option_naming_a_file_or_a_path_under_a_file_is_exit_2(string name)
    {
        using var dir = new TempDir();
        var file = dir.File("plain", "x");
        foreach (var (value, message) in new[] { (file, "this is a file, not a directory"), (Path.Combine(file, "sub"), $"{file} is a file, so nothing can be created under it") })
        {
            var e = Assert.Throws<KilnException>(() => Parse(null, (name, value)))!;
            Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
            Assert.That(e.Message, Does.StartWith($"--{name}={value}: {message}"));
        }
    }

    [Test]
    public void Good_paths_and_mirrors_are_taken_and_made_absolute()
    {
        using var dir = new TempDir();
        var options = Parse(null, ("out", Path.Combine(dir.Path, "new", "out")), ("cache-dir", dir.Path), ("mirror", "https://mirror.example/pub/v6.x/"), ("variant", "dbg"), ("jobs", "1024"), ("timeout", "86400"));
        Assert.That((options.Out, options.CacheDir, options.Mirror), Is.EqualTo((Path.Combine(dir.Path, "new", "out"), dir.Path, "https://mirror.example/pub/v6.x/")));
        Assert.That((options.Jobs, options.TimeoutSeconds), Is.EqualTo((1024, 86400)));
        Assert.That(Directory.Exists(Path.Combine(dir.Path, "new")), Is.False, "checking a path creates nothing");
    }

    [Test]
    public void Docker_and_a_distcc_farm_from_the_environment_conflict()
    {
        var e = Assert.Throws<KilnException>(() => Parse(new Dictionary<string, string?> { ["KILN_DISTCC_HOSTS"] = "10.0.0.5/4" }, ("runtime", "docker")))!;
        Assert.That(e.Message, Does.Contain("--runtime=docker").And.Contain("KILN_DISTCC_HOSTS"));
    }

    [Test]
    public void Clang_builds_locally_not_on_a_distcc_farm()
    {
        var e = Assert.Throws<KilnException>(() => Parse(null, ("distcc-hosts", "10.0.0.5/4"), ("toolchain", "clang")))!;
        Assert.That((e.ExitCode, e.Message), Is.EqualTo((ExitCodes.BadInput, e.Message)));
        Assert.That(e.Message, Does.Contain("--distcc-hosts with --toolchain=clang"));
    }

    [Test]
    public void Docker_builds_only_with_the_compilers_the_builder_image_lists()
    {
        var e = Assert.Throws<KilnException>(() => Parse(null, ("runtime", "docker"), ("toolchain", "clang")))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("no clang, lld, llvm").And.Contain("containers/builder/packages").And.Contain("--runtime=host"));
        Assert.That(Assert.Throws<KilnException>(() => Parse(null, ("runtime", "docker"), ("arch", "s390x")))!.Message, Does.Contain("gcc-s390x-linux-gnu"));
        Assert.That(Parse(null, ("runtime", "docker"), ("arch", "arm64")).Toolchain, Is.EqualTo(Toolchain.Gcc));
        // CacheKey and Matrix compile nothing: KILN_RUNTIME=docker in a CI environment does not stop them.
        Assert.That(Parse(null, ("runtime", "docker"), ("arch", "s390x"), ("target", "CacheKey")).Arch, Is.EqualTo(Arch.S390x));
    }

    [Test]
    public void A_bisect_step_parses_the_same_options_from_the_arguments_bisect_passes_on()
    {
        var options = Parse(null, ("arch", "arm64"), ("toolchain", "clang"), ("jobs", "3"), ("no-cache", "true"), ("append", "loglevel=7 quiet"), ("cache-dir", "rel/cache"));
        var passed = options.ToArguments();
        Assert.That(passed, Does.Contain("--arch=arm64").And.Contain("--append=loglevel=7 quiet").And.Contain("--cache-dir=" + Path.GetFullPath("rel/cache")));
        var again = Parse(null, passed.Select(a => a[2..].Split('=', 2)).Select(p => (p[0], p[1])).ToArray());
        Assert.That((again.Arch, again.Toolchain, again.RequestedJobs, again.NoCache, again.Append, again.CacheDir),
            Is.EqualTo((Arch.Arm64, Toolchain.Clang, options.RequestedJobs, options.NoCache, options.Append, options.CacheDir)));
    }

    /// <summary>A repository whose configs tree has Kata's build-type and confidential folders.</summary>
    private static TempDirectory KataRepository()
    {
        var repo = new TempDirectory();
        foreach (var file in new[] { "versions.yaml", "kata_config_version" }) File.Copy(Path.Combine(Root, file), Path.Combine(repo.Path, file));
        repo.Write("configs/fragments/common/base.conf", "CONFIG_A=y\n");
        repo.Write("configs/fragments/common/extras.conf", "# !confidential\nCONFIG_EXTRAS=y\n");
        repo.Write("configs/fragments/common/confidential_containers/tmpfs.conf", "CONFIG_TMPFS=y\n");
        repo.Write("configs/fragments/x86_64/x86_64.conf", "CONFIG_X86=y\n");
        repo.Write("configs/fragments/x86_64/confidential/tdx.conf", "CONFIG_TDX=y\n");
        repo.Write("configs/fragments/arm64/arm64.conf", "CONFIG_ARM64=y\n");
        repo.Write("configs/fragments/build-type/fast/nested/fast.conf", "CONFIG_FAST=y\n");
        return repo;
    }

    [Test]
    public void Kata_build_type_and_guest_type_select_fragments_and_join_the_recipe_but_not_the_key()
    {
        using var repo = KataRepository();
        KilnOptions Options(params (string, string)[] arguments) =>
            KilnOptions.Parse(arguments.ToLookup(a => a.Item1, a => a.Item2), new Dictionary<string, string?>(), repo.Path);

        var plain = Options();
        var kata = Options(("build-type", "fast"), ("conf-guest", "confidential"));
        Assert.That((kata.BuildType, kata.ConfGuest), Is.EqualTo(("fast", "confidential")));
        Assert.That(KernelTarget.Fragments(plain).Fragments.Select(f => f.DisplayName),
            Is.EqualTo(new[] { "common/base.conf", "common/extras.conf", "x86_64/x86_64.conf" }));
        Assert.That(KernelTarget.Fragments(kata).Fragments.Select(f => f.DisplayName), Is.EqualTo(new[]
        {
            "common/base.conf", "x86_64/x86_64.conf", "build-type/fast/nested/fast.conf",
            "x86_64/confidential/tdx.conf", "common/confidential_containers/tmpfs.conf",
        }), "as build-kernel.sh -b fast -x: !confidential fragments left out");

        var (plainTarget, kataTarget) = (KernelTarget.Resolve(plain), KernelTarget.Resolve(kata));
        Assert.That(kataTarget.CacheKey, Is.EqualTo(plainTarget.CacheKey), "the cache key and uname -r stay <version>-<counter>");
        Assert.That(kataTarget.Recipe.Hash, Is.Not.EqualTo(plainTarget.Recipe.Hash), "so the build identity differs");
        Assert.That(kataTarget.Recipe.LockName, Is.EqualTo(plainTarget.Recipe.LockName + "/build-type=fast/conf-guest=confidential"));
        Assert.That(kataTarget.Recipe.Files.Select(f => f.Path), Does.Contain("configs/fragments/build-type/fast/nested/fast.conf"));
        Assert.That(plainTarget.Recipe.Files.Select(f => f.Path), Has.None.Contains("build-type"));

        // A bisect step gets them through the arguments Bisect passes on.
        var again = Options(kata.ToArguments().Select(a => a[2..].Split('=', 2)).Select(p => (p[0], p[1])).ToArray());
        Assert.That((again.BuildType, again.ConfGuest), Is.EqualTo(("fast", "confidential")));

        // arm64 has no confidential folder here: exit 2 before any work, as build-kernel.sh -x would find no fragments.
        var e = Assert.Throws<KilnException>(() => Options(("arch", "arm64"), ("conf-guest", "confidential")))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain(Path.Combine(repo.Path, "configs", "fragments", "arm64", "confidential")));
    }

    [Test]
    public void Against_is_made_absolute_for_ConfigDiff()
    {
        using var dir = new TempDirectory();
        var config = dir.Write("old.config", "CONFIG_A=y\n");
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, config);
        Assert.That(Parse(null, ("against", relative)).Against, Is.EqualTo(config));
        Assert.That(Parse(null).Against, Is.Null);
    }

    [Test]
    public void Every_argument_is_declared_once_with_a_description()
    {
        var names = KilnOptions.Arguments.Select(a => a.Name).ToList();
        Assert.That(names, Is.Unique);
        Assert.That(KilnOptions.Arguments.Select(a => a.Description), Has.None.Empty);
        Assert.That(KilnOptions.ArgumentFor(nameof(KilnOptions.BisectPlanPath)), Is.EqualTo("bisect-plan"));
        Assert.That(KilnOptions.ArgumentFor(nameof(KilnOptions.KataDestDir)), Is.EqualTo("destdir"));
    }

    [Test]
    public void The_machine_defaults_to_the_arch_s_kata_like_profile_with_2_vcpus_and_2_GiB()
    {
        Assert.That(Parse(null).Machine.ToString(), Is.EqualTo("q35, 2 vCPUs, 2G"));
        Assert.That(Parse(null, ("arch", "arm64")).Machine.Profile.Name, Is.EqualTo("virt"));
        var options = Parse(null, ("machine", "microvm"), ("smp", "4"), ("memory", "512M"));
        Assert.That((options.Machine.Profile.Name, options.Machine.Smp, options.Machine.Memory.MiB), Is.EqualTo(("microvm", 4, 512L)));
        Assert.That(options.ToArguments(), Is.SupersetOf(new[] { "--machine=microvm", "--smp=4", "--memory=512M" }), "a bisect step gets the same machine");
    }

    [TestCase("machine", "virt", "no such machine profile for x86_64. Profiles for x86_64: q35")]
    [TestCase("smp", "0", "--smp=0: expected a positive whole number")]
    [TestCase("memory", "12", "--memory=12: give a positive size with a unit")]
    [TestCase("memory", "0G", "--memory=0G: give a positive size with a unit")]
    public void Bad_machine_options_are_exit_2_naming_the_option(string name, string value, string message)
    {
        var e = Assert.Throws<KilnException>(() => Parse(null, (name, value)))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain(message));
    }

    [TestCase("0", "expected a positive whole number")]
    [TestCase("86401", "from 1 to 86400")]
    [TestCase("999999999", "from 1 to 86400")]
    public void Download_timeout_out_of_range_is_exit_2(string value, string message)
    {
        var e = Assert.Throws<KilnException>(() => Parse(null, ("download-timeout", value)))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("--download-timeout=").And.Contain(message));
    }

    [Test]
    public void Download_timeout_comes_from_the_environment_too() =>
        Assert.That(Parse(new Dictionary<string, string?> { ["KILN_DOWNLOAD_TIMEOUT"] = "5" }).DownloadTimeoutSeconds, Is.EqualTo(5));

    [Test]
    public void Matrix_filters_accept_every_spelling_in_kilns_order_without_repeats()
    {
        var options = Parse(null, ("matrix-arches", "riscv, aarch64,x86_64,amd64"), ("matrix-toolchains", "llvm,gcc"));
        Assert.That(options.MatrixArchFilter, Is.EqualTo(new[] { Arch.X86_64, Arch.Arm64, Arch.Riscv64 }));
        Assert.That(options.MatrixToolchainFilter, Is.EqualTo(new[] { Toolchain.Gcc, Toolchain.Clang }));
        Assert.That(Parse(null).MatrixArchFilter, Is.Empty, "not given");
        Assert.That(Parse(null).MatrixToolchainFilter, Is.Empty, "not given");
    }

    [TestCase("arch", "arm64", "matrix-arches", "x86_64", "--arch=arm64 and --matrix-arches=x86_64 both choose the matrix's arches")]
    [TestCase("toolchain", "clang", "matrix-toolchains", "gcc", "--toolchain=clang and --matrix-toolchains=gcc both choose the matrix's toolchains")]
    public void A_matrix_filter_and_the_single_option_it_replaces_are_exit_2_together(string single, string value, string filter, string names, string message)
    {
        var e = Assert.Throws<KilnException>(() => Parse(null, (single, value), (filter, names)))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain(message));
    }
}
