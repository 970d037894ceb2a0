using Kiln.Kernel.Config;

namespace Kiln.Tests.Config;

public sealed class ConfigureStampTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kiln-stamp-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private FragmentSet Fragments(string content)
    {
        var path = Path.Combine(_dir, "a.conf");
        File.WriteAllText(path, content);
        return new FragmentSet(new[] { ConfigFragment.Load(path, "common/a.conf") });
    }

    [Test]
    public void A_stamp_holds_only_for_the_same_inputs_and_the_same_config()
    {
        var build = Directory.CreateDirectory(Path.Combine(_dir, "build")).FullName;
        File.WriteAllText(Path.Combine(build, ".config"), "CONFIG_A=y\n");
        var inputs = ConfigureStamp.InputsHash("/src/linux", Fragments("CONFIG_A=y\n"), "tinyconfig", AllowList.Empty);
        Assert.That(ConfigureStamp.IsCurrent(build, inputs), Is.False, "no stamp yet");

        ConfigureStamp.Write(build, inputs);
        Assert.That(ConfigureStamp.IsCurrent(build, inputs), Is.True);

        Assert.That(ConfigureStamp.IsCurrent(build, ConfigureStamp.InputsHash("/src/linux", Fragments("CONFIG_A=n\n"), "tinyconfig", AllowList.Empty)), Is.False, "fragment changed");
        Assert.That(ConfigureStamp.IsCurrent(build, ConfigureStamp.InputsHash("/src/other", Fragments("CONFIG_A=y\n"), "tinyconfig", AllowList.Empty)), Is.False, "tree changed");
        Assert.That(ConfigureStamp.IsCurrent(build, ConfigureStamp.InputsHash("/src/linux", Fragments("CONFIG_A=y\n"), "defconfig", AllowList.Empty)), Is.False, "base changed");

        File.AppendAllText(Path.Combine(build, ".config"), "CONFIG_B=y\n");
        Assert.That(ConfigureStamp.IsCurrent(build, inputs), Is.False, ".config edited by hand");

        ConfigureStamp.Clear(build);
        Assert.That(ConfigureStamp.IsCurrent(build, inputs), Is.False);
        Assert.DoesNotThrow(() => ConfigureStamp.Clear(Path.Combine(_dir, "never-configured")));
    }

    [Test]
    public void A_working_trees_series_counts_only_where_Kconfig_can_read_it()
    {
        var tree = Directory.CreateDirectory(Path.Combine(_dir, "linux")).FullName;
        var fragments = Fragments("CONFIG_A=y\n");
        string Inputs(string source, params (string Path, string Text)[] files)
        {
            foreach (var (path, text) in files)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(tree, path))!);
                File.WriteAllText(Path.Combine(tree, path), text);
            }
            new Kiln.Kernel.Patches.TreeState(source, [], files.Select(f => f.Path).ToList()).Write(tree, "/src", Kiln.Kernel.Patches.PatchSeries.Load(_dir));
            return ConfigureStamp.InputsHash(tree, fragments, "tinyconfig", AllowList.Empty);
        }

        var before = Inputs("sha-1", ("kernel/sys.c", "int a;"), ("init/Kconfig", "config A\n"));
        Assert.That(Inputs("sha-1", ("kernel/sys.c", "int b;"), ("init/Kconfig", "config A\n")), Is.EqualTo(before), "a C change keeps the .config");
        Assert.That(Inputs("sha-1", ("kernel/sys.c", "int b;"), ("init/Kconfig", "config B\n")), Is.Not.EqualTo(before), "Kconfig changed");
        Assert.That(Inputs("sha-1", ("kernel/sys.c", "int b;")), Is.Not.EqualTo(before), "the Kconfig patch was dropped");
        Assert.That(Inputs("sha-2", ("kernel/sys.c", "int a;"), ("init/Kconfig", "config A\n")), Is.Not.EqualTo(before), "another source");
        Assert.That(ConfigureStamp.MayAffectConfig("arch/x86/Makefile"), Is.True);
        Assert.That(ConfigureStamp.MayAffectConfig("scripts/Kconfig.include"), Is.True);
        Assert.That(ConfigureStamp.MayAffectConfig("Documentation/Kconfig"), Is.True, "the top Kconfig sources it");
        Assert.That(ConfigureStamp.MayAffectConfig("scripts/kconfig/confdata.c"), Is.True, "the program that writes .config");
        Assert.That(ConfigureStamp.MayAffectConfig("Documentation/admin-guide/README.rst"), Is.False);
        Assert.That(ConfigureStamp.MayAffectConfig("include/linux/sched.h"), Is.False);
    }
}
