using System.Runtime.InteropServices;
using Kiln.Kernel;
using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.IO;
using Kiln.Kernel.Versions;
using Kiln.Tests.Host;
using NUnit.Framework;

namespace Kiln.Tests.Domain;

public class ToolchainTests
{
    [Test]
    public void Gcc_cross_compiles_with_the_arch_s_prefix_and_ccache_in_front()
    {
        // Only a foreign arch needs CROSS_COMPILE; the compiler make runs is that prefix's gcc.
        foreach (var arch in Arch.All)
        {
            var native = RuntimeInformation.OSArchitecture == arch.HostEquivalent;
            var variables = Toolchain.Gcc.MakeVariables(arch, ccache: true).ToList();
            Assert.That(variables[0], Is.EqualTo("ARCH=" + arch.MakeArch));
            if (native) Assert.That(variables, Has.None.StartsWith("CROSS_COMPILE="));
            else Assert.That(variables, Does.Contain("CROSS_COMPILE=" + arch.CrossPrefix));
            Assert.That(Toolchain.Gcc.Compiler(arch), Is.EqualTo(native ? "gcc" : arch.CrossPrefix + "gcc"));
            Assert.That(variables, Does.Contain("CC=ccache " + Toolchain.Gcc.Compiler(arch)).And.None.StartsWith("LLVM"));
        }
    }

    [Test]
    public void Clang_is_one_compiler_for_every_arch_with_llvm_and_its_assembler()
    {
        Assert.That(Toolchain.Clang.MakeVariables(Arch.Arm64, ccache: true),
            Is.EqualTo(new[] { "ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-", "LLVM=1", "LLVM_IAS=1", "CC=ccache clang" }));
        Assert.That(Toolchain.Clang.MakeVariables(Arch.X86_64), Is.EqualTo(new[] { "ARCH=x86_64", "LLVM=1", "LLVM_IAS=1" }));
        var packages = Prerequisites.For(Arch.Arm64, toolchain: Toolchain.Clang).Select(p => p.Package).ToList();
        Assert.That(packages, Does.Contain("clang").And.Contain("lld").And.Contain("llvm").And.Not.Contain("gcc-aarch64-linux-gnu"));
        Assert.That(Prerequisites.For(Arch.Arm64).Select(p => p.Package), Does.Contain("gcc-aarch64-linux-gnu").And.Not.Contain("clang"));
    }

    [TestCase("clang", "clang")]
    [TestCase("LLVM", "clang")]
    [TestCase("gcc", "gcc")]
    public void Names_and_aliases(string given, string name) => Assert.That(Toolchain.Find(given)!.Name, Is.EqualTo(name));

    [Test]
    public void Only_another_toolchain_changes_the_build_directory()
    {
        var paths = new KilnPaths("/c", "/o");
        Assert.That(paths.BuildDirectory("6.1.192", Arch.X86_64, "", "host", toolchain: Toolchain.Gcc), Is.EqualTo("/c/work/6.1.192-x86_64/build"));
        Assert.That(paths.BuildDirectory("6.1.192", Arch.X86_64, "dbg", "host", toolchain: Toolchain.Clang), Is.EqualTo("/c/work/6.1.192-x86_64-dbg-clang/build"));
    }

    [TestCase("gcc (Debian 12.2.0-14) 12.2.0", "12.2.0")]
    [TestCase("Debian clang version 14.0.6", "14.0.6")]
    [TestCase("aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0", "12.2.0")]
    public void Versions_come_from_the_version_line(string line, string version) =>
        Assert.That(ToolchainCheck.ParseVersion(line), Is.EqualTo(Version.Parse(version)));

    [Test]
    public void A_kernel_that_needs_a_newer_clang_is_exit_2_with_both_versions()
    {
        var error = Assert.Throws<KilnException>(() => Toolchain.Clang.RequireSupports(new KernelVersion(6, 1, 192), Arch.S390x, new Version(14, 0, 6), new Version(15, 0, 0)))!;
        Assert.That(error.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.Message, Does.Contain("15.0.0").And.Contain("14.0.6").And.Contain("6.1.192").And.Contain("--toolchain=gcc"));
        Assert.DoesNotThrow(() => Toolchain.Clang.RequireSupports(new KernelVersion(6, 1, 192), Arch.X86_64, new Version(14, 0, 6), new Version(11, 0, 0)));
    }

    [Test]
    public void A_kernel_too_old_for_clang_is_exit_2_with_both_versions()
    {
        var error = Assert.Throws<KilnException>(() => Toolchain.Clang.RequireSupports(new KernelVersion(5, 4, 280), Arch.X86_64, new Version(14, 0, 6), null))!;
        Assert.That(error.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error.Message, Does.Contain("5.4.280").And.Contain("14.0.6").And.Contain("5.10"));
        Assert.DoesNotThrow(() => Toolchain.Gcc.RequireSupports(new KernelVersion(5, 4, 280), Arch.X86_64, new Version(12, 2, 0), null));
    }

    /// <summary>The tree's own script decides the minimum, with the arch's SRCARCH: 6.1 asks LLVM 15 for s390 and 11 elsewhere.</summary>
    [Test]
    public void The_minimum_is_the_tree_s_min_tool_version()
    {
        using var tree = new TempDir();
        Directory.CreateDirectory(Path.Combine(tree.Path, "scripts"));
        File.WriteAllText(Path.Combine(tree.Path, "scripts", "min-tool-version.sh"), """
            case "$1" in
            gcc) echo 5.1.0 ;;
            llvm) if [ "$SRCARCH" = s390 ]; then echo 15.0.0; else echo 11.0.0; fi ;;
            *) echo "$1: unknown tool" >&2; exit 1 ;;
            esac
            """);
        var log = new RecordingLog();
        Assert.That(ToolchainCheck.TreeMinimum(Toolchain.Clang, Arch.S390x, tree.Path, log), Is.EqualTo(new Version(15, 0, 0)));
        Assert.That(ToolchainCheck.TreeMinimum(Toolchain.Clang, Arch.Arm64, tree.Path, log), Is.EqualTo(new Version(11, 0, 0)));
        Assert.That(ToolchainCheck.TreeMinimum(Toolchain.Gcc, Arch.Arm64, tree.Path, log), Is.EqualTo(new Version(5, 1, 0)));
        Assert.That(ToolchainCheck.TreeMinimum(Toolchain.Gcc, Arch.Arm64, Path.Combine(tree.Path, "none"), log), Is.Null);
    }
}

public class LlvmDocumentTests
{
    /// <summary>The tree's own table decides where LLVM=1 builds: 6.1 lists powerpc and s390 with CC=clang only.</summary>
    [Test]
    public void The_tree_s_llvm_table_gives_each_arch_s_make_command()
    {
        using var tree = new TempDir();
        tree.File(ToolchainCheck.LlvmDocument, """
            Supported Architectures
            -----------------------

            .. list-table::
               :widths: 10 10 10
               :header-rows: 1

               * - Architecture
                 - Level of support
                 - ``make`` command
               * - arm64
                 - Supported
                 - ``LLVM=1``
               * - powerpc
                 - Maintained
                 - ``CC=clang``
               * - x86
                 - Supported
                 - ``LLVM=1``

            Getting Help
            """);
        var commands = ToolchainCheck.LlvmMakeCommands(tree.Path)!;
        Assert.That(commands, Is.EqualTo(new Dictionary<string, string> { ["arm64"] = "LLVM=1", ["powerpc"] = "CC=clang", ["x86"] = "LLVM=1" }));
        Assert.That(ToolchainCheck.LlvmMakeCommands(Path.Combine(tree.Path, "none")), Is.Null);
    }
}
