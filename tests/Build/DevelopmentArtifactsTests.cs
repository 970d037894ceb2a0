using System.Formats.Tar;
using Kiln.Kernel.Build;
using Kiln.Kernel.Packaging;
using Kiln.Tests.Config;
using Kiln.Tests.Packaging;

namespace Kiln.Tests.Build;

public sealed class DevelopmentArtifactsTests
{
    private const string Release = "6.1.192-1";

    /// <summary>A source tree and an O= build directory with the shapes kbuild leaves behind.</summary>
    private static (TempDirectory Root, string Source, string Build) Tree(bool modules)
    {
        var root = new TempDirectory();
        var source = Path.Combine(root.Path, "src");
        var build = Path.Combine(root.Path, "build");
        void Write(string dir, string relative, string text = "x")
        {
            var path = Path.Combine(dir, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text);
        }

        Write(source, "Makefile", "VERSION = 6");
        Write(source, "arch/x86/Makefile");
        Write(source, "arch/x86/include/asm/io.h");
        Write(source, "arch/x86/kernel/setup.c");
        Write(source, "include/linux/module.h");
        Write(source, "scripts/Makefile.build");
        Write(source, "scripts/mod/modpost.c");
        Write(source, "kernel/fork.c");
        File.CreateSymbolicLink(Path.Combine(source, "scripts", "dtc-link"), "../arch/x86/include");

        Write(build, ".config", modules ? "CONFIG_MODULES=y\n" : "# CONFIG_MODULES is not set\n");
        Write(build, "Makefile", "include ../src/Makefile");
        Write(build, "include/generated/autoconf.h");
        Write(build, "include/config/kernel.release", Release);
        Write(build, "arch/x86/include/generated/asm/unistd_64.h");
        Write(build, "scripts/mod/modpost", "ELF");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(build, "scripts/mod/modpost"), (UnixFileMode)0b111_101_101);
        Write(build, "scripts/mod/modpost.o");
        Write(build, "scripts/mod/.modpost.o.cmd");
        Write(build, "usr/include/linux/version.h", "#define LINUX_VERSION_CODE 393664");
        Write(build, "usr/include/linux/.version.h.cmd");
        Write(build, "kernel/fork.o");
        if (modules)
        {
            Write(build, "Module.symvers", "0x0\tcrc_itu_t\tlib/crc-itu-t\tEXPORT_SYMBOL\t");
            var installed = Path.Combine(build, DevelopmentArtifacts.ModulesStaging, "lib", "modules", Release);
            Write(installed, "kernel/lib/crc-itu-t.ko", "ko");
            Write(installed, "modules.dep", "kernel/lib/crc-itu-t.ko:");
            File.CreateSymbolicLink(Path.Combine(installed, "build"), build);
            File.CreateSymbolicLink(Path.Combine(installed, "source"), source);
        }
        return (root, source, build);
    }

    private static Dictionary<string, ReadEntry> Read(string tar) => PackageReader.ReadTar(tar);

    [Test]
    public void Without_modules_only_the_uapi_headers_are_packed()
    {
        var (root, source, build) = Tree(modules: false);
        using var _ = root;
        var written = DevelopmentArtifacts.Write(source, build, "x86", Release, modules: false);

        Assert.That(written.Keys, Is.EqualTo(new[] { DevelopmentArtifacts.HeadersTar }));
        var headers = Read(written[DevelopmentArtifacts.HeadersTar]);
        Assert.That(headers.Keys, Is.EqualTo(new[] { "usr/", "usr/include/", "usr/include/linux/", "usr/include/linux/version.h" }));
        Assert.That(headers["usr/include/linux/version.h"].Data, Is.EqualTo("#define LINUX_VERSION_CODE 393664"u8.ToArray()));
    }

    [Test]
    public void The_module_kit_takes_sources_and_build_products_but_no_objects()
    {
        var (root, source, build) = Tree(modules: true);
        using var _ = root;
        var dev = Read(DevelopmentArtifacts.Write(source, build, "x86", Release, modules: true)[DevelopmentArtifacts.DevTar]);
        const string top = "usr/src/linux-headers-6.1.192-1/";

        Assert.That(dev.Keys.Where(k => !k.EndsWith('/')), Is.EquivalentTo(new[]
        {
            top + ".config", top + "Makefile", top + "Module.symvers", top + "arch/x86/Makefile", top + "arch/x86/include/asm/io.h",
            top + "arch/x86/include/generated/asm/unistd_64.h", top + "include/config/kernel.release",
            top + "include/generated/autoconf.h", top + "include/linux/module.h", top + "scripts/Makefile.build",
            top + "scripts/dtc-link", top + "scripts/mod/modpost", top + "scripts/mod/modpost.c",
        }));
        Assert.That(dev[top + "Makefile"].Data, Is.EqualTo("VERSION = 6"u8.ToArray()), "the source Makefile, not the O= wrapper");
        Assert.That(dev[top + "scripts/mod/modpost"].Mode & UnixFileMode.UserExecute, Is.Not.EqualTo((UnixFileMode)0), "host tools stay executable");
        Assert.That(dev[top + "scripts/Makefile.build"].Mode, Is.EqualTo(Permissions.File));
        Assert.That(dev[top + "scripts/dtc-link"].Type, Is.EqualTo(TarEntryType.SymbolicLink));
        Assert.That(dev[top + "scripts/dtc-link"].LinkName, Is.EqualTo("../arch/x86/include"));
        Assert.That(dev.Keys, Does.Contain("usr/src/"), "parent directories are entries of their own");
    }

    [Test]
    public void Installed_modules_link_to_the_kit_instead_of_host_paths()
    {
        var (root, source, build) = Tree(modules: true);
        using var _ = root;
        var modules = Read(DevelopmentArtifacts.Write(source, build, "x86", Release, modules: true)[DevelopmentArtifacts.ModulesTar]);
        const string top = "lib/modules/6.1.192-1/";

        Assert.That(modules.Keys, Does.Contain(top + "kernel/lib/crc-itu-t.ko"));
        Assert.That(modules.Keys, Does.Contain(top + "modules.dep"));
        Assert.That(modules.Keys, Does.Not.Contain(top + "source"));
        Assert.That(modules[top + "build"].LinkName, Is.EqualTo("/usr/src/linux-headers-6.1.192-1"));
    }

    [Test]
    public void Writing_twice_gives_the_same_bytes()
    {
        var (root, source, build) = Tree(modules: true);
        using var _ = root;
        var first = DevelopmentArtifacts.Write(source, build, "x86", Release, modules: true).ToDictionary(p => p.Key, p => File.ReadAllBytes(p.Value));
        foreach (var file in Directory.GetFiles(build, "*", SearchOption.AllDirectories)) File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddDays(-3));
        var second = DevelopmentArtifacts.Write(source, build, "x86", Release, modules: true);
        foreach (var (name, bytes) in first) Assert.That(File.ReadAllBytes(second[name]), Is.EqualTo(bytes), name);
    }

    [Test]
    public void Modules_follow_the_config()
    {
        var (root, _, build) = Tree(modules: true);
        using var __ = root;
        Assert.That(DevelopmentArtifacts.ModulesEnabled(build), Is.True);
        Assert.That(DevelopmentArtifacts.MakeTargets(true), Is.EqualTo(new[] { "headers", "modules" }));
        File.WriteAllText(Path.Combine(build, ".config"), "# CONFIG_MODULES is not set\n");
        Assert.That(DevelopmentArtifacts.ModulesEnabled(build), Is.False);
        Assert.That(DevelopmentArtifacts.MakeTargets(false), Is.EqualTo(new[] { "headers" }));
    }
}
