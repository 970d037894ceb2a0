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
}
