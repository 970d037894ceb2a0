using System.Text.Json;
using System.Text.RegularExpressions;
using Kiln.Kernel.Versions;
using NUnit.Framework;

namespace Kiln.Tests.Host;

/// <summary>--target=Matrix as CI runs it: one "matrix=" line on stdout and matrix.json in --out.</summary>
public class MatrixTargetTests
{
    [Test]
    public void PrintsTheWholeMatrixOnOneLineAndWritesMatrixJson()
    {
        using var dir = new TempDir();
        var r = BuildHost.Run("--target=Matrix", "--out=" + dir.Path);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());

        var line = Regex.Match(r.StdOut, @"(?m)^matrix=(\{.*\})\r?$");
        Assert.That(line.Success, Is.True, r.StdOut);
        using var printed = JsonDocument.Parse(line.Groups[1].Value);
        var series = VersionsManifest.Load(Path.Combine(Repo.Root, "versions.yaml")).Series.Count;
        Assert.That(printed.RootElement.GetProperty("include").GetArrayLength(), Is.EqualTo(series * Kiln.Kernel.Arch.All.Count * BuildMatrix.Variants.Count),
            "every arch, gcc only by default");
        using var file = JsonDocument.Parse(File.ReadAllText(dir["matrix.json"]));
        Assert.That(JsonSerializer.Serialize(file.RootElement), Is.EqualTo(line.Groups[1].Value), "the file holds the printed matrix");
    }

    [Test]
    public void NamedArgumentsNarrowTheMatrix()
    {
        using var dir = new TempDir();
        var r = BuildHost.Run("--target=Matrix", "--kernel=6.12", "--arch=arm64", "--out=" + dir.Path);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        using var json = JsonDocument.Parse(File.ReadAllText(dir["matrix.json"]));
        Assert.That(json.RootElement.GetProperty("include").EnumerateArray().Select(e => e.GetProperty("name").GetString()),
            Is.EqualTo(new[] { "6.12-arm64", "6.12-arm64-dbg" }));
    }

    [Test]
    public void MatrixArchesAndToolchainsChooseTheJobs()
    {
        using var dir = new TempDir();
        var r = BuildHost.Run("--target=Matrix", "--kernel=6.1", "--variant=dbg", "--matrix-arches=amd64,s390", "--matrix-toolchains=clang,gcc", "--out=" + dir.Path);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        using var json = JsonDocument.Parse(File.ReadAllText(dir["matrix.json"]));
        var jobs = json.RootElement.GetProperty("include").EnumerateArray().ToList();
        Assert.That(jobs.Select(e => e.GetProperty("name").GetString()),
            Is.EqualTo(new[] { "6.1-x86_64-dbg", "6.1-x86_64-dbg-clang", "6.1-s390x-dbg", "6.1-s390x-dbg-clang" }), "aliases accepted, Kiln's order");
        Assert.That(jobs.Select(e => e.GetProperty("image_tag").GetString()!), Has.Exactly(1).EndsWith("-dbg-clang-s390x"));
    }

    [TestCase("--matrix-arches=x86_64,sparc", "unknown architecture 'sparc'. Supported: x86_64, arm64, s390x, ppc64le, riscv64.")]
    [TestCase("--matrix-toolchains=gcc,icc", "unknown toolchain 'icc'. Supported: gcc, clang.")]
    public void AnUnknownNameIsExit2ListingTheSupportedOnes(string argument, string message)
    {
        using var dir = new TempDir();
        var r = BuildHost.Run("--target=Matrix", argument, "--out=" + dir.Path);
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.StdErr + r.StdOut, Does.Contain(message));
    }
}
