using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Packaging;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Reproduction;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Reproduction;

/// <summary>
/// Reproduce's comparison on small files: ELF objects compiled here with gcc that differ in one section, text, a tar
/// and a missing file. diffoscope is not needed (Kiln's own account is always made).
/// </summary>
public class ArtifactComparisonTests
{
    private TempDir _dir = null!;
    private readonly RecordingLog _log = new();

    [SetUp]
    public void SetUp() => _dir = new TempDir("kiln-compare-");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private FileComparison Compare(string name, string? cached, string? rebuilt) =>
        new ArtifactComparison(_log).Compare(name, cached, rebuilt, _dir["report"]);

    /// <summary>An object file whose only difference from its twin is the string in <c>banner</c> (.rodata), as a host name in init/version.c would make.</summary>
    /// <remarks>The source has the same name in each directory: the file name is in the symbol table.</remarks>
    private string CompileObject(string name, string banner)
    {
        var source = _dir.File(Path.Combine(name, "version.c"),
            $"const char banner[] = \"Linux version 6.1 (kiln@{banner})\";\nint add(int a, int b) {{ return a + b; }}\nint counter;\n");
        var obj = _dir[Path.Combine(name, "version.o")];
        new Command("gcc", "-O2", "-fno-asynchronous-unwind-tables", "-c", "-o", obj, "version.c") { Purpose = "compile a fixture", WorkingDirectory = _dir[name] }.Run(_log);
        return obj;
    }

    [Test]
    public void Identical_files_are_the_same_and_say_nothing_else()
    {
        var a = CompileObject("a", "host-one");
        var b = _dir["copy.o"];
        File.Copy(a, b);
        var result = Compare("vmlinux", a, b);
        Assert.That(result.Identical, Is.True);
        Assert.That(result.Where, Is.Empty);
        Assert.That(result.CachedSha256, Is.EqualTo(result.RebuiltSha256).And.Length.EqualTo(64));
    }

    [Test]
    public void ELF_files_differing_in_one_section_name_that_section_and_the_symbol_at_the_first_difference()
    {
        Prerequisite.Require(Prerequisites.OnPath("readelf"), "readelf (binutils) is not installed");
        var result = Compare("vmlinux", CompileObject("cached", "host-one"), CompileObject("rebuilt", "host-two"));

        Assert.That(result.Identical, Is.False);
        Assert.That(result.Sections, Is.EqualTo(new[] { ".rodata" }), string.Join("\n", result.Where));
        // "Linux version 6.1 (kiln@host-" is the same: the first differing byte is the 'o' of "one", 29 bytes into banner.
        Assert.That(result.Where.Single(), Does.StartWith("section .rodata: ").And.Contain("contents differ, first at +0x1d").And.Contain("in or after symbol banner+0x1d"));
    }

    [Test]
    public void An_ELF_section_only_one_build_has_is_named()
    {
        Prerequisite.Require(Prerequisites.OnPath("objcopy"), "objcopy (binutils) is not installed");
        var cached = CompileObject("cached", "host");
        var rebuilt = _dir["rebuilt.o"];
        var note = _dir.File("note.bin", "built by nobody@elsewhere");
        new Command("objcopy", "--add-section", ".comment.kiln=" + note, cached, rebuilt) { Purpose = "add a section" }.Run(_log);

        var result = Compare("vmlinux", cached, rebuilt);
        Assert.That(result.Sections, Does.Contain(".comment.kiln"));
        Assert.That(result.Where, Does.Contain("section .comment.kiln: only in the rebuild"));
    }

    [Test]
    public void Text_files_name_the_first_differing_line()
    {
        var cached = _dir.File("cached.map", "ffffffff81000000 T _text\nffffffff81000010 T startup_64\n");
        var rebuilt = _dir.File("rebuilt.map", "ffffffff81000000 T _text\nffffffff81000020 T startup_64\n");
        var result = Compare("System.map", cached, rebuilt);
        Assert.That(result.Where.Single(), Is.EqualTo(
            "line 2 differs (55 bytes each): cached 'ffffffff81000010 T startup_64', rebuilt 'ffffffff81000020 T startup_64'"));
        Assert.That(result.Sections, Is.Empty);
    }

    [Test]
    public void A_tar_names_the_member_holding_the_first_difference()
    {
        var cached = _dir["cached.tar"];
        var rebuilt = _dir["rebuilt.tar"];
        DeterministicTar.Write(cached, new[] { TarItem.Bytes("usr/include/linux/a.h", new byte[700]), TarItem.Bytes("usr/include/linux/version.h", "#define A 1\n"u8.ToArray()) });
        DeterministicTar.Write(rebuilt, new[] { TarItem.Bytes("usr/include/linux/a.h", new byte[700]), TarItem.Bytes("usr/include/linux/version.h", "#define A 2\n"u8.ToArray()) });
        var result = Compare("kernel-headers.tar", cached, rebuilt);
        Assert.That(result.Where.Single(), Does.StartWith("first difference at byte ").And.EndWith("in member usr/include/linux/version.h"));
    }

    [Test]
    public void Other_binaries_give_the_first_differing_offset()
    {
        var cached = _dir["cached.img"];
        var rebuilt = _dir["rebuilt.img"];
        var bytes = new byte[4096];
        File.WriteAllBytes(cached, bytes);
        bytes[1000] = 7;
        File.WriteAllBytes(rebuilt, bytes);
        Assert.That(Compare("bzImage", cached, rebuilt).Where.Single(), Is.EqualTo("first difference at byte 1000 (0x3e8; 4096 bytes each)"));
    }

    [Test]
    public void A_file_only_one_build_made_is_a_difference()
    {
        var cached = _dir.File("config", "CONFIG_X=y\n");
        var missing = Compare("config", cached, _dir["nothing"]);
        Assert.That(missing.Identical, Is.False);
        Assert.That(missing.Where, Is.EqualTo(new[] { "not made by the rebuild" }));
        Assert.That(Compare("kernel.tar", null, cached).Where, Is.EqualTo(new[] { "not in the cached build" }));
    }

    [Test]
    public void The_rebuild_sees_another_user_host_name_and_clock()
    {
        Prerequisite.Require(Prerequisites.OnPath("faketime"), "faketime is not installed (apt-get install faketime)");
        var disguise = RebuildDisguise.For(Kiln.Kernel.IO.CacheTrust.CurrentUser);
        var inside = disguise.Probe(_log).Split(' ');
        Assert.That(inside[0], Is.EqualTo(disguise.Uid.ToString()).And.Not.EqualTo(Kiln.Kernel.IO.CacheTrust.CurrentUser.ToString()));
        Assert.That(inside[1], Is.EqualTo(disguise.HostName).And.Not.EqualTo(Environment.MachineName));
        Assert.That(DateTime.Parse(inside[2]), Is.GreaterThan(DateTime.UtcNow.AddYears(2)));
    }
}
