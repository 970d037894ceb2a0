using Kiln.Build.Hosting;
using System.Text.RegularExpressions;
using Cake.Frosting;
using Kiln.Build;
using Kiln.Kernel.Versions;
using NUnit.Framework;

namespace Kiln.Tests.Host;

/// <summary>Runs the real build host (Build.dll) as a process, with KILN_ROOT set, like build.sh.</summary>
public class BuildHostProcessTests
{
    [Test]
    public void HelpListsEveryTaskAndArgument()
    {
        var r = BuildHost.Run("--help");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        foreach (var t in TaskGraphTests.Tasks) Assert.That(r.StdOut, Does.Contain(t.Name), r.ToString());
        foreach (var a in BuildArguments.All.Concat(CommandLine.HostOptions))
            Assert.That(r.StdOut, Does.Match(@"(^|\s)--" + Regex.Escape(a.Name) + @"(=|\[=|\s)"), $"--{a.Name} missing from --help");
        Assert.That(r.StdOut, Does.Contain("BootTest (default)"));
    }

    [Test]
    public void UnknownTargetExits2AndListsValidTargets()
    {
        var r = BuildHost.Run("--target=Setpu");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.StdErr, Does.Contain("Unknown target 'Setpu'").And.Contain("Did you mean 'Setup'"));
        foreach (var t in TaskGraphTests.Tasks) Assert.That(r.StdErr, Does.Contain(t.Name));
    }

    [Test]
    public void UnknownArgumentExits2()
    {
        var r = BuildHost.Run("--target=CacheKey", "--kernal=6.1");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.StdErr, Does.Contain("--kernal").And.Contain("Did you mean 'kernel'"));
        Assert.That(r.StdOut, Does.Not.Contain("key="), "nothing ran");
    }

    [Test]
    public void MissingValueExits2()
    {
        var r = BuildHost.Run("--target=CacheKey", "--kernel");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.StdErr, Does.Contain("needs a value"));
    }

    [TestCase("--verbosity=loud")]
    [TestCase("--verbosity=4")]
    [TestCase("--jobs=99999999")]
    [TestCase("--timeout=999999999")]
    [TestCase("--variant=/tmp/x")]
    [TestCase("--arch=sparc")]
    [TestCase("--jobs=0")]
    [TestCase("--variant=nosuch")]
    [TestCase("--kernel=99999999999.1")]
    [TestCase("--distcc-hosts=10.0.0.5:http")]
    [TestCase("--runtime=podman")]
    public void BadValuesExit2WithoutAStackTrace(string arg)
    {
        var r = BuildHost.Run("--target=CacheKey", arg);
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.StdErr, Does.Contain(arg.Split('=')[1]));
        Assert.That(r.StdErr, Does.Not.Contain("   at "), "user errors carry no stack trace");
    }

    [Test]
    public void CacheKeyPrintsTheKey()
    {
        var manifest = VersionsManifest.Load(Path.Combine(Repo.Root, "versions.yaml"));
        var counter = ConfigVersion.Load(Path.Combine(Repo.Root, "kata_config_version"));
        var r = BuildHost.Run("--target=CacheKey");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.StdOut, Does.Match($@"(?m)^key={Regex.Escape(manifest.DefaultVersion.ToString())}-{counter}\r?$"));
        Assert.That(r.StdOut, Does.Match(@"(?m)^key=\d+\.\d+\.\d+-\d+\r?$"));
        Assert.That(r.StdOut, Does.Match(@"(?m)^input_hash=[0-9a-f]{64}\r?$"));
    }

    [Test]
    public void CacheKeyForASeriesAndVariant()
    {
        var r = BuildHost.Run("--target=CacheKey", "--kernel=6.6", "--variant=dbg");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var counter = ConfigVersion.Load(Path.Combine(Repo.Root, "kata_config_version"));
        Assert.That(r.StdOut, Does.Match($@"(?m)^key=6\.6\.\d+-{counter}-dbg\r?$"));
    }

    [Test]
    public void CacheKeyFailsWhenInputsChangedWithoutABump()
    {
        using var copy = CopyRepoInputs();
        var ok = BuildHost.RunIn(copy.Path, "--target=CacheKey", "--update-lock");
        Assert.That(ok.ExitCode, Is.EqualTo(0), ok.ToString());
        Assert.That(BuildHost.RunIn(copy.Path, "--target=CacheKey").StdOut, Does.Contain("lock=Current"));

        File.AppendAllText(copy["configs/fragments/common/extra.conf"], "CONFIG_EXTRA=y\n");
        var stale = BuildHost.RunIn(copy.Path, "--target=CacheKey");
        Assert.That(stale.ExitCode, Is.EqualTo(2), stale.ToString());
        Assert.That(stale.StdErr, Does.Contain("added configs/fragments/common/extra.conf").And.Contain("kata_config_version"));
        Assert.That(stale.StdOut, Does.Contain("lock=ChangedWithoutBump"));

        var counter = ConfigVersion.Load(copy["kata_config_version"]);
        File.WriteAllText(copy["kata_config_version"], $"{counter + 1}\n");
        var bumped = BuildHost.RunIn(copy.Path, "--target=CacheKey");
        Assert.That(bumped.ExitCode, Is.EqualTo(0), bumped.ToString());
        Assert.That(bumped.StdOut, Does.Contain("lock=CounterBumped").And.Contain($"-{counter + 1}"));
    }

    [Test]
    public void DryRunListsThePipelineInOrder()
    {
        var pipeline = TaskGraphTests.Pipeline;
        var r = BuildHost.Run("--dryrun", "--target=" + pipeline[^1]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var listed = Regex.Matches(r.StdOut, @"(?m)^\s*\d+\.\s+(\w+)\s*$").Select(m => m.Groups[1].Value).ToList();
        Assert.That(listed, Is.EqualTo(pipeline), "the whole pipeline, in order, and nothing else: " + r.StdOut);
    }

    [Test]
    public void DryRunOfSetupListsSetup()
    {
        var r = BuildHost.Run("--dryrun", "--target=Setup");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.StdOut, Does.Match(@"(?m)^\s*1\.\s+Setup\s*$"));
    }

    [Test]
    public void UnpinnedSeriesExits2AndListsPinned()
    {
        var r = BuildHost.Run("--target=Setup", "--kernel=9.9");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.StdErr, Does.Contain("9.9").And.Contain("6.1, 6.6, 6.12"));
    }

    [Test]
    public void UnreachableSeriesExits3QuicklyWithOfflineAlternatives()
    {
        using var cache = new TempDir();
        // Deterministic even on a machine with network: every HTTPS request goes to a closed local port.
        var env = new Dictionary<string, string>
        {
            ["https_proxy"] = "http://127.0.0.1:9", ["HTTPS_PROXY"] = "http://127.0.0.1:9",
            ["http_proxy"] = "http://127.0.0.1:9", ["HTTP_PROXY"] = "http://127.0.0.1:9", ["no_proxy"] = "", ["NO_PROXY"] = "",
        };
        var r = BuildHost.Run(null, env, "--target=Setup", "--kernel=6.6", "--cache-dir=" + cache.Path);
        Assert.That(r.ExitCode, Is.EqualTo(3), r.ToString());
        Assert.That(r.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)));
        Assert.That(r.StdErr, Does.Contain("6.6.63").And.Contain("https://cdn.kernel.org/pub/linux/kernel/v6.x/")
            .And.Contain("--mirror").And.Contain("--source").And.Contain("linux-source"));
        Assert.That(r.StdErr, Does.Not.Contain("   at "));
        Assert.That(cache.Listing().Where(p => p.Contains(".part") || p.StartsWith("sources/")), Is.Empty, string.Join("\n", cache.Listing()));
    }

    [Test]
    public void OutsideTheRepositoryWithoutKilnRootExits2()
    {
        using var elsewhere = new TempDir();
        var r = BuildHost.Run(elsewhere.Path, new Dictionary<string, string> { ["KILN_ROOT"] = "" }, "--target=CacheKey");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.StdErr, Does.Contain("versions.yaml"));
    }

    /// <summary>A scratch copy of what CacheKey reads, so tests can change it.</summary>
    private static TempDir CopyRepoInputs()
    {
        var dir = new TempDir();
        foreach (var f in new[] { "versions.yaml", "kata_config_version", "kiln.lock" })
            if (File.Exists(Path.Combine(Repo.Root, f))) File.Copy(Path.Combine(Repo.Root, f), dir[f]);
        foreach (var d in new[] { "configs", "patches" })
        {
            var src = Path.Combine(Repo.Root, d);
            if (!Directory.Exists(src)) continue;
            foreach (var file in Directory.GetFiles(src, "*", SearchOption.AllDirectories))
            {
                var target = dir[Path.GetRelativePath(Repo.Root, file)];
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
        }
        return dir;
    }
}
