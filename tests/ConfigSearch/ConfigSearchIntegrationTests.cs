using System.Text.Json;
using Kiln.Tests.Integration;

namespace Kiln.Tests.ConfigSearch;

/// <summary>
/// ConfigBisect and MinConfig on the shared 6.1 kernel's tree, in the searches' build directory of the shared cache.
/// Extended: every step is a kernel build (incremental, and the first in that directory is a whole make).
/// </summary>
[TestFixture]
[Category("Integration")]
[Category("Extended")]
[NonParallelizable]
public sealed class ConfigSearchIntegrationTests
{
    /// <summary>Harmless changes around one that breaks the boot: the guest's /init is a shell script, which needs BINFMT_SCRIPT.</summary>
    private static readonly (string From, string To)[] Changes =
    [
        ("CONFIG_DEFAULT_HOSTNAME=\"(none)\"", "CONFIG_DEFAULT_HOSTNAME=\"kiln\""),
        ("CONFIG_LOG_BUF_SHIFT=17", "CONFIG_LOG_BUF_SHIFT=16"),
        ("# CONFIG_MEMBARRIER is not set", "CONFIG_MEMBARRIER=y"),
        ("# CONFIG_KCMP is not set", "CONFIG_KCMP=y"),
        ("CONFIG_BINFMT_SCRIPT=y", "# CONFIG_BINFMT_SCRIPT is not set"),
    ];

    [Test]
    public void ConfigBisect_names_the_option_that_breaks_init_among_harmless_changes()
    {
        var root = Fresh("kiln-config-bisect-it");
        var guest = File.ReadAllText(Path.Combine(SharedKernel.OutDir, "config"));
        var bad = guest;
        foreach (var (from, to) in Changes)
        {
            Assert.That(bad, Does.Contain(from + "\n"), "the guest config this test changes");
            bad = bad.Replace(from + "\n", to + "\n");
        }
        var goodPath = Path.Combine(root, "good.config");
        var badPath = Path.Combine(root, "bad.config");
        File.WriteAllText(goodPath, guest);
        File.WriteAllText(badPath, bad);
        var outDir = Path.Combine(root, "out");

        var run = KilnRun.Run(["--target=ConfigBisect", "--kernel=6.1", "--good-config=" + goodPath, "--bad-config=" + badPath, "--timeout=60",
            "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir], timeout: TimeSpan.FromMinutes(90));
        TestContext.Progress.WriteLine(run.Output);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Output, Does.Contain("CONFIG_BINFMT_SCRIPT y → n"));
        Assert.That(run.Output, Does.Contain("fs/Kconfig.binfmt:"), "the Kconfig explanation names where the option is defined");
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "config-bisect.json")));
        var json = report.RootElement;
        Assert.That(json.GetProperty("status").GetString(), Is.EqualTo("found"));
        Assert.That(json.GetProperty("culprits").EnumerateArray().Select(c => c.GetProperty("change").GetProperty("symbol").GetString()),
            Is.EqualTo(new[] { "BINFMT_SCRIPT" }));
        Assert.That(json.GetProperty("differingOptions").GetArrayLength(), Is.EqualTo(Changes.Length));
        Assert.That(json.GetProperty("builds").GetInt32(), Is.LessThanOrEqualTo(json.GetProperty("maxBuilds").GetInt32()));
        Assert.That(json.GetProperty("maxBuilds").GetInt32(), Is.EqualTo(5), "ceil(log2 5) + 2");
        var steps = json.GetProperty("steps").EnumerateArray().ToList();
        Assert.That(steps.Take(2).Select(s => s.GetProperty("verdict").GetString()), Is.EqualTo(new[] { "good", "bad" }));
        Directory.Delete(root, recursive: true);
    }

    /// <summary>
    /// Two runs: the first stops at --max-steps=1 (the starting config's build) and writes its fragment; the second
    /// resumes and is interrupted (SIGINT) in its first build, which must leave the state as it was. Then Configure
    /// takes the fragment. (A group's build changes hundreds of objects: tens of minutes on 2 busy cores.)
    /// </summary>
    [Test]
    public void MinConfig_on_the_tinyconfig_guest_stops_at_max_steps_resumes_survives_an_interrupt_and_writes_a_fragment_Configure_accepts()
    {
        var root = Fresh("kiln-min-config-it");
        // The default guest is the tinyconfig one (--base-config=tinyconfig); its search starts over, not from an earlier run.
        var states = Path.Combine(KilnRun.SharedCacheDir, "config-search");
        foreach (var old in Directory.Exists(states) ? Directory.GetFiles(states, "min-config-*.json") : []) File.Delete(old);
        var outDir = Path.Combine(root, "out");
        string[] args = ["--target=MinConfig", "--kernel=6.1", "--base-config=tinyconfig", "--timeout=60", "--cache-dir=" + KilnRun.SharedCacheDir, "--out=" + outDir];

        var first = KilnRun.Run([.. args, "--max-steps=1"], timeout: TimeSpan.FromMinutes(90));
        TestContext.Progress.WriteLine(first.Output);
        Assert.That(first.ExitCode, Is.EqualTo(0), first.ToString());
        Assert.That(first.Output, Does.Contain("stopped at --max-steps"));
        using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "min-config.json"))))
        {
            var json = report.RootElement;
            Assert.That((json.GetProperty("builds").GetInt32(), json.GetProperty("resumed").GetBoolean(), json.GetProperty("converged").GetBoolean()),
                Is.EqualTo((1, false, false)));
            Assert.That(json.GetProperty("steps")[0].GetProperty("verdict").GetString(), Is.EqualTo("good"));
        }
        var state = Directory.GetFiles(states, "min-config-*.json").Single();
        var saved = File.ReadAllText(state);

        var second = Kiln.Tests.Reliability.ReliabilityHost.Run([.. args, "--max-steps=1"], killWhen: line => line.Contains("MinConfig build 2:"),
            killDelay: TimeSpan.FromSeconds(5), hostSignal: "INT", timeout: TimeSpan.FromMinutes(30));
        TestContext.Progress.WriteLine(second.Output);
        Assert.That(second.Output, Does.Contain("MinConfig: resuming from " + state));
        Assert.That((second.Killed, second.ExitCode), Is.EqualTo((true, 130)), second.ToString());
        Assert.That(File.ReadAllText(state), Is.EqualTo(saved), "an interrupted build changes nothing in the state");

        var fragment = Path.Combine(outDir, "min-config.conf");
        Assert.That(File.ReadAllText(fragment), Does.Contain("CONFIG_BINFMT_SCRIPT=y").And.Contain("best so far after 1 builds"));
        var configure = KilnRun.Run(["--target=Configure", "--kernel=6.1", "--base-config=" + fragment, "--cache-dir=" + KilnRun.SharedCacheDir,
            "--out=" + Path.Combine(root, "configure")]);
        Assert.That(configure.ExitCode, Is.EqualTo(0), configure.ToString());
        Assert.That(configure.Output, Does.Contain("all hold"));
        Directory.Delete(root, recursive: true);
    }

    private static string Fresh(string name)
    {
        var root = Path.Combine(Path.GetTempPath(), name);
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(root);
        return root;
    }
}
