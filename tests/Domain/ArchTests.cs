using System.Runtime.InteropServices;
using Kiln.Kernel;
using Kiln.Kernel.HostSetup;
using Kiln.Tests.Config;
using NUnit.Framework;

namespace Kiln.Tests.Domain;

public class ArchTests
{
    [Test]
    public void Every_arch_has_its_fragments_directory_and_a_unique_name()
    {
        Assert.That(Arch.All.Select(a => a.Name), Is.Unique);
        Assert.That(Arch.All.SelectMany(a => a.Aliases.Append(a.Name)), Is.Unique, "an alias may name one arch only");
        foreach (var arch in Arch.All)
            Assert.That(Directory.Exists(Path.Combine(TestPaths.RepositoryRoot, "configs", "fragments", arch.KataName)), arch.Name);
    }

    [Test]
    public void Fragment_folders_are_named_as_Kata_names_them()
    {
        // build-kernel.sh's arch_to_kernel: the kernel's arch names, except x86_64.
        Assert.That(Arch.All.Select(a => a.KataName), Is.EqualTo(new[] { "x86_64", "arm64", "s390", "powerpc", "riscv" }));
        Assert.That(Arch.KataNames, Is.EqualTo(Arch.All.Select(a => a.KataName)));
    }

    [TestCase("x86_64", "amd64", "amd64", "amd64", "bzImage")]
    [TestCase("arm64", "arm64", "arm64", "aarch64", "Image")]
    [TestCase("s390x", "s390x", "s390x", "s390x", "bzImage")]
    [TestCase("ppc64le", "ppc64el", "ppc64le", "ppc64le", "vmlinux")]
    [TestCase("riscv64", "riscv64", "riscv64", null, "Image")]
    public void Names_for_each_tool(string name, string debian, string oci, string? aci, string image)
    {
        var arch = Arch.Parse(name);
        Assert.That((arch.DebianArch, arch.OciArch, arch.AciArch, arch.ImageName), Is.EqualTo((debian, oci, aci, image)));
    }

    [Test]
    public void Prerequisites_follow_the_arch()
    {
        foreach (var arch in Arch.All)
        {
            var wanted = Prerequisites.For(arch).Select(p => p.What).ToList();
            Assert.That(wanted, Does.Contain(arch.QemuBinary));
            Assert.That(wanted.Contains(arch.CrossPrefix + "gcc"), Is.EqualTo(!arch.IsHost));
        }
    }

    [Test]
    public void Aci_labels_are_valid_appc_arches()
    {
        // riscv64 has no appc label, so it gets no ACI at all rather than an invalid one.
        Assert.That(Arch.All.Where(a => a.AciArch is null), Is.EqualTo(new[] { Arch.Riscv64 }));
        foreach (var arch in Arch.All.Where(a => a.AciArch is not null))
        {
            var manifest = $$"""{"acKind":"ImageManifest","acVersion":"0.8.11","name":"kiln.dev/stage1","labels":[{"name":"version","value":"1"},{"name":"kernelversion","value":"6.1"},{"name":"os","value":"linux"},{"name":"arch","value":"{{arch.AciArch}}"}]}""";
            Assert.That(Kiln.Kernel.Packaging.AciManifest.Validate(manifest).Where(e => e.Contains("arch")), Is.Empty, arch.Name);
        }
    }
}
