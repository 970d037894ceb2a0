using Kiln.Kernel;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.ConfigSearch;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Pipeline;
using Kiln.Tests.Config;

namespace Kiln.Tests.ConfigSearch;

/// <summary>Bad input to ConfigBisect and MinConfig is exit 2 before any build, naming the option and the file.</summary>
public class ConfigSearchInputTests
{
    private const string X86Config = "#\n# Linux/x86_64 6.1.192 Kernel Configuration\n#\nCONFIG_X86=y\nCONFIG_X86_64=y\nCONFIG_BINFMT_SCRIPT=y\n";

    private static KilnOptions Parse(params (string Name, string Value)[] arguments) =>
        KilnOptions.Parse(arguments.ToLookup(a => a.Name, a => a.Value), new Dictionary<string, string?>(), TestPaths.RepositoryRoot);

    private static KilnException BadInput(TestDelegate action)
    {
        var error = Assert.Throws<KilnException>(action)!;
        Assert.That(error.ExitCode, Is.EqualTo(ExitCodes.BadInput), error.Message);
        return error;
    }

    [TestCase("0")]
    [TestCase("-1")]
    [TestCase("many")]
    public void Max_steps_must_be_a_positive_number(string value) =>
        Assert.That(BadInput(() => Parse(("max-steps", value))).Message, Does.Contain($"--max-steps={value}"));

    [Test]
    public void ConfigBisect_needs_both_configs_and_they_must_exist()
    {
        using var dir = new TempDirectory();
        var good = dir.Write("good.config", X86Config);
        Assert.That(BadInput(() => Parse(("target", "ConfigBisect"), ("good-config", good))).Message, Does.Contain("--bad-config=FILE"));
        Assert.That(BadInput(() => Parse(("target", "ConfigBisect"), ("good-config", good), ("bad-config", "/nonexistent/bad.config"))).Message,
            Does.Contain("--bad-config=/nonexistent/bad.config: no such file"));
        Assert.That(BadInput(() => Parse(("config", dir.Path))).Message, Does.Contain("--config=").And.Contain("directory"));
        var options = Parse(("target", "ConfigBisect"), ("good-config", good), ("bad-config", good), ("max-steps", "3"));
        Assert.That((options.GoodConfig, options.BadConfig, options.MaxSteps), Is.EqualTo((good, good, 3)));
    }

    [Test]
    public void A_config_for_another_arch_is_refused_by_its_header_or_its_arch_symbol()
    {
        using var dir = new TempDirectory();
        var arm = dir.Write("arm.config", "#\n# Linux/arm64 6.1.192 Kernel Configuration\n#\nCONFIG_ARM64=y\n");
        Assert.That(BadInput(() => SearchConfigFile.Load("good-config", arm, Arch.X86_64)).Message,
            Does.Contain($"--good-config={arm} is a config for arm64").And.Contain("--arch=x86_64"));
        var headless = dir.Write("headless.config", "CONFIG_ARM64=y\nCONFIG_PRINTK=y\n");
        Assert.That(BadInput(() => SearchConfigFile.Load("config", headless, Arch.X86_64)).Message,
            Does.Contain("sets CONFIG_ARM64=y, so it is a config for arm64"));
        var x86 = dir.Write("x86.config", X86Config);
        Assert.That(BadInput(() => SearchConfigFile.Load("bad-config", x86, Arch.Arm64)).Message, Does.Contain("is a config for x86_64"));
        Assert.That(SearchConfigFile.Load("bad-config", x86, Arch.X86_64).Get("BINFMT_SCRIPT"), Is.EqualTo("y"));
    }

    [Test]
    public void A_file_without_options_is_not_a_config()
    {
        using var dir = new TempDirectory();
        var empty = dir.Write("empty.config", "# nothing here\n");
        Assert.That(BadInput(() => SearchConfigFile.Load("config", empty, Arch.X86_64)).Message, Does.Contain("not a kernel .config"));
    }

    [Test]
    public void Identical_good_and_bad_configs_are_refused_before_anything_is_built()
    {
        using var dir = new TempDirectory();
        var good = dir.Write("good.config", X86Config);
        // The same options, written otherwise: n and "is not set" are one value.
        var bad = dir.Write("bad.config", X86Config + "# CONFIG_MODULES is not set\n");
        var options = Parse(("target", "ConfigBisect"), ("good-config", good), ("bad-config", bad), ("cache-dir", dir.Path));
        var pipeline = new KernelPipeline(options, new RecordingLog(), () => throw new InvalidOperationException("no container engine in this test"));

        var error = BadInput(() => pipeline.ConfigBisect(null!, null));
        Assert.That(error.Message, Does.Contain($"--good-config={good} and --bad-config={bad} set every option alike"));
    }
}
