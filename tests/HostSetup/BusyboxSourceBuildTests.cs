using Kiln.Kernel;
using Kiln.Kernel.HostSetup;
using NUnit.Framework;

namespace Kiln.Tests.HostSetup;

public class BusyboxSourceBuildTests
{
    [Test]
    public void The_source_comes_from_the_mirror_the_host_uses_for_its_release()
    {
        const string targets = """
            http://deb.debian.org/debian-security/ bookworm-security main
            https://deb.nodesource.com/node_20.x/ nodistro main
            http://mirror.example/debian/ bookworm main
            http://mirror.example/debian/ bookworm-updates main
            """;
        Assert.That(BusyboxSourceBuild.PickMirror(targets, "bookworm"), Is.EqualTo("http://mirror.example/debian"));
        Assert.That(BusyboxSourceBuild.PickMirror(targets, "trixie"), Is.Null);
        Assert.That(BusyboxSourceBuild.SourcesEntry("http://mirror.example/debian", "bookworm"),
            Does.Contain("Types: deb-src").And.Contain("Suites: bookworm").And.Contain("Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"));
    }

    [Test]
    public void Only_an_arch_without_debians_busybox_static_needs_the_cross_libc()
    {
        Assert.That(Arch.All.Where(a => !a.DebianBusybox), Is.EqualTo(new[] { Arch.Riscv64 }));
        var wanted = Prerequisites.For(Arch.Riscv64).Select(p => p.Package).ToList();
        Assert.That(wanted, Does.Contain("libc6-dev-riscv64-cross").And.Contain("qemu-system-data").And.Contain("gcc-riscv64-linux-gnu"));
        Assert.That(Prerequisites.For(Arch.S390x).Select(p => p.Package), Does.Not.Contain("libc6-dev-s390x-cross"));
        // busybox is compiled with the cross gcc even when clang compiles the kernel.
        Assert.That(Prerequisites.For(Arch.Riscv64, toolchain: Toolchain.Clang).Select(p => p.Package), Does.Contain("gcc-riscv64-linux-gnu"));
    }
}
