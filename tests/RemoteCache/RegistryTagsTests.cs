using Kiln.Kernel;
using Kiln.Kernel.Build;
using Kiln.Kernel.RemoteCache;
using Kiln.Tests.Packaging;

namespace Kiln.Tests.RemoteCache;

/// <summary>The tags --push and the remote cache give a build: per arch, and per toolchain without renaming gcc's.</summary>
[TestFixture]
public sealed class RegistryTagsTests
{
    [Test]
    public void Gcc_keeps_the_key_as_its_index_and_each_arch_its_tag_next_to_it()
    {
        Assert.That(new RegistryTags("6.1.192-1", Arch.X86_64, Toolchain.Gcc).Index, Is.EqualTo("6.1.192-1"));
        Assert.That(new RegistryTags("6.1.192-1", Arch.X86_64, Toolchain.Gcc).ArchTag, Is.EqualTo("6.1.192-1-amd64"));
        Assert.That(new RegistryTags("6.1.192-1-dbg", Arch.Arm64, Toolchain.Gcc).ArchTag, Is.EqualTo("6.1.192-1-dbg-arm64"));
    }

    [Test]
    public void Clang_has_an_index_and_arch_tags_of_its_own()
    {
        var clang = new RegistryTags("6.1.192-1", Arch.X86_64, Toolchain.Clang);
        Assert.That(clang.Index, Is.EqualTo("6.1.192-1-clang"));
        Assert.That(clang.ArchTag, Is.EqualTo("6.1.192-1-clang-amd64"));
        Assert.That(new RegistryTags("6.1.192-1-dbg", Arch.Riscv64, Toolchain.Clang).ArchTag, Is.EqualTo("6.1.192-1-dbg-clang-riscv64"));

        var everyTag = Arch.All.SelectMany(a => Toolchain.All.Select(t => new RegistryTags("6.1.192-1", a, t)))
            .SelectMany(t => new[] { t.Index, t.ArchTag }).ToList();
        Assert.That(everyTag.Distinct().Count(), Is.EqualTo(Toolchain.All.Count * (Arch.All.Count + 1)),
            "one index per toolchain and one tag per arch and toolchain: no build replaces another's");
    }

    [Test]
    public void A_build_is_tagged_by_the_arch_and_toolchain_its_metadata_records()
    {
        using var clang = new FakeKernel(arch: "arm64", toolchain: "clang");
        Assert.That(RegistryTags.Of(clang.Kernel.Metadata), Is.EqualTo(new RegistryTags("6.1.192-1", Arch.Arm64, Toolchain.Clang)));
        using var gcc = new FakeKernel(toolchain: "gcc");
        Assert.That(RegistryTags.Of(gcc.Kernel.Metadata).ArchTag, Is.EqualTo("6.1.192-1-amd64"));
        // metadata.json written before toolchains has no toolchain.name: those kernels were all gcc's.
        using var older = new FakeKernel();
        Assert.That(older.Kernel.Metadata.BuiltWith, Is.EqualTo(Toolchain.Gcc));
        Assert.That(RegistryTags.Of(older.Kernel.Metadata).Index, Is.EqualTo("6.1.192-1"));
    }

    [Test]
    public void The_toolchain_is_not_written_twice_into_metadata_json()
    {
        using var clang = new FakeKernel(toolchain: "clang");
        var json = File.ReadAllText(clang.Kernel.File(BuildMetadata.FileName));
        Assert.That(json, Does.Not.Contain("built_with"), "BuiltWith is read from toolchain.name, not stored");
    }
}
