using System.Text.Json;

namespace Kiln.Tests.Integration;

/// <summary>
/// --toolchain=clang: the 6.1 guest built with Debian's clang, lld and llvm (LLVM=1 LLVM_IAS=1) and boot-tested like the
/// gcc build; and the s390x refusal the tree's own min-tool-version.sh asks for. The clang kernel is a cold build of its
/// own (its objects share nothing with gcc's), so Extended.
/// </summary>
[TestFixture]
[Category("Integration")]
[Category("Extended")]
[NonParallelizable]
public sealed class ClangPipelineTests
{
    [Test]
    public void A_clang_build_of_6_1_boots_and_passes_every_check_and_says_so_in_its_metadata()
    {
        var outDir = Directory.CreateTempSubdirectory("kiln-test-clang-").FullName;
        var run = KilnRun.Run(["--target=BootTest", "--kernel=6.1", "--toolchain=clang", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir]);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain($"PASS: Linux {KilnRun.Key61}"));

        using var metadata = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metadata.json")));
        var toolchain = metadata.RootElement.GetProperty("toolchain");
        Assert.That(toolchain.GetProperty("name").GetString(), Is.EqualTo("clang"));
        Assert.That(toolchain.GetProperty("compiler").GetString(), Does.Contain("clang version").And.Contain("LLD").And.Contain("LLVM=1 LLVM_IAS=1"));
        // The kernel says which compiler built it: Kconfig's CONFIG_CC_IS_CLANG and the banner's version string.
        Assert.That(File.ReadAllText(Path.Combine(outDir, "config")), Does.Contain("CONFIG_CC_IS_CLANG=y").And.Contain("CONFIG_LD_IS_LLD=y"));
        Assert.That(File.ReadAllText(Path.Combine(outDir, "boot", "serial.log")), Does.Contain("clang version"));
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "boot", "results.json")));
        var checks = results.RootElement.GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString());
        foreach (var check in new[] { "smp", "memory", "virtio-blk", "virtio-net", "9p", "cgroup2", "namespaces" })
            Assert.That(checks[check], Is.EqualTo("pass"), check);
    }

    [Test]
    public void Clang_14_for_s390x_6_1_is_exit_2_naming_both_versions_before_any_build()
    {
        var outDir = Directory.CreateTempSubdirectory("kiln-test-clang-s390x-").FullName;
        var run = KilnRun.Run(["--target=BuildKernel", "--kernel=6.1", "--arch=s390x", "--toolchain=clang", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir]);
        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Output, Does.Match(@"needs clang 15\.0\.0 or newer for s390x .*the installed clang is 1[0-4]\.\d+\.\d+"));
        Assert.That(run.Output, Does.Not.Contain("Building "), "refused before make");
    }

    /// <summary>6.1's Documentation/kbuild/llvm.rst lists powerpc with CC=clang only: Kiln's LLVM=1 build is refused, naming the document.</summary>
    [Test]
    public void Clang_for_ppc64le_6_1_is_exit_2_citing_the_tree_s_llvm_document()
    {
        var outDir = Directory.CreateTempSubdirectory("kiln-test-clang-ppc64le-").FullName;
        var run = KilnRun.Run(["--target=BuildKernel", "--kernel=6.1", "--arch=ppc64le", "--toolchain=clang", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir]);
        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Output, Does.Contain("Documentation/kbuild/llvm.rst lists powerpc as building with CC=clang only"));
        Assert.That(run.Output, Does.Not.Contain("Building "), "refused before make");
    }
}
