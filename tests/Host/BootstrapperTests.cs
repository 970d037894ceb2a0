using System.Diagnostics;
using Kiln.Tests.Integration;

namespace Kiln.Tests.Host;

/// <summary>build.sh and build.ps1 as users call them: they build the host when needed and pass exit codes through.</summary>
[TestFixture]
[NonParallelizable]
public sealed class BootstrapperTests
{
    private static (int ExitCode, string Output) Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = KilnRun.RepoRoot };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.That(process.WaitForExit(TimeSpan.FromMinutes(3)), Is.True, $"{program} did not finish");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string? Pwsh() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "pwsh")).FirstOrDefault(File.Exists);

    [Test]
    public void BuildSh_prints_the_cache_key_and_passes_exit_codes_through()
    {
        var ok = Run(Path.Combine(KilnRun.RepoRoot, "build.sh"), "--target=CacheKey");
        Assert.That(ok.ExitCode, Is.EqualTo(0), ok.Output);
        Assert.That(ok.Output, Does.Contain($"key={KilnRun.Key61}"));

        var bad = Run(Path.Combine(KilnRun.RepoRoot, "build.sh"), "--target=NoSuchTarget");
        Assert.That(bad.ExitCode, Is.EqualTo(2), bad.Output);
        Assert.That(bad.Output, Does.Contain("Unknown target 'NoSuchTarget'"));
    }

    [Test]
    public void BuildPs1_behaves_like_build_sh()
    {
        var pwsh = Pwsh();
        Prerequisite.Require(pwsh is not null, "pwsh is not on PATH (.ci/run installs it as a .NET tool)");
        var ok = Run(pwsh, "-NoProfile", "-File", Path.Combine(KilnRun.RepoRoot, "build.ps1"), "--target=CacheKey");
        Assert.That(ok.ExitCode, Is.EqualTo(0), ok.Output);
        Assert.That(ok.Output, Does.Contain($"key={KilnRun.Key61}"));

        var bad = Run(pwsh, "-NoProfile", "-File", Path.Combine(KilnRun.RepoRoot, "build.ps1"), "--kernel=9.9", "--target=CacheKey");
        Assert.That(bad.ExitCode, Is.EqualTo(2), bad.Output);
    }
}
