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
        Assert.That(printed.RootElement.GetProperty("include").GetArrayLength(), Is.EqualTo(series * BuildMatrix.Arches.Count * BuildMatrix.Variants.Count));
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
}
