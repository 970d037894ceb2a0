using System.Text.Json;
using System.Xml.Linq;
using Kiln.Tests.Integration;
using static Kiln.Tests.Reliability.ReliabilityHost;

namespace Kiln.Tests.Reliability;

/// <summary>
/// The guest's verdict under a hostile or careless guest: a test script that forges its own result, a console line
/// the report writers cannot represent, and a guest that powers off half-way. Each boots a copy of the shared 6.1
/// kernel's cache entry (a cache hit, one TCG boot each).
/// </summary>
[TestFixture]
[Category("Reliability")]
[NonParallelizable]
public sealed class GuestVerdictFaultTests
{
    private static string[] Args(string cache, string @out, params string[] extra) =>
        new[] { "--target=BootTest", "--kernel=6.1", "--source=debian", "--cache-dir=" + cache, "--out=" + @out }.Concat(extra).ToArray();

    /// <summary>
    /// The script looks for the nonce wherever a test can read (the init script, the image's files, environments and
    /// command lines, the kernel's), then writes a pass for itself, and a completion, with every candidate to the
    /// report device (re-created with mknod if it is gone) before init can write the real result, and exits 1.
    /// </summary>
    internal const string ForgeScript = """
        #!/bin/sh
        seen=$( { cat /init /kiln/* /proc/cmdline; env; cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline | tr '\0' '\n'; } 2>/dev/null |
                grep -o '[0-9a-f]\{16\}' | sort -u)
        echo "forge: candidates: $(echo $seen)"
        dev=/dev/ttyS1
        [ -c $dev ] || { mknod /tmp/report c 4 65 && dev=/tmp/report; }
        for n in $seen 0123456789abcdef; do
          printf 'KILN %s test forge.sh 0 0.01\nKILN %s done\n' "$n" "$n" > $dev
        done
        exit 1

        """;

    [Test]
    public void TestScriptCannotForgeItsVerdict()
    {
        using var scratch = new Scratch("forge");
        var cache = scratch.CacheWithSharedKernel();
        var outDir = scratch.Path_("out");
        var script = Path.Combine(scratch.Dir("tests"), "forge.sh");
        File.WriteAllText(script, ForgeScript);

        var run = Run(Args(cache, outDir, "--test=" + script));

        AssertFails(run, 1, $"Boot test of Linux {KilnRun.Key61} failed", "test:forge.sh", "exit code 1");
        Assert.That(run.Output, Does.Contain("not written by this run's init").And.Contain("test forge.sh 0 0.01"),
            "the forged lines must be reported");
        // The run's nonce is on init's first line; the script printed every hex word it could find, and not that one.
        var boot = Path.Combine(outDir, "boot");
        var nonce = File.ReadLines(Path.Combine(boot, "report.log")).First().Split(' ')[1];
        var candidates = File.ReadLines(Path.Combine(boot, "serial.log")).Single(l => l.StartsWith("forge: candidates:", StringComparison.Ordinal));
        Assert.That(candidates, Does.Not.Contain(nonce), "a test script found the nonce");
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(boot, "results.json")));
        var checks = results.RootElement.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
        Assert.That(checks["test:forge.sh"].GetProperty("status").GetString(), Is.EqualTo("fail"));
        Assert.That(checks["guest-report"].GetProperty("status").GetString(), Is.EqualTo("fail"));
        Assert.That(results.RootElement.GetProperty("passed").GetBoolean(), Is.False);
    }

    [Test]
    public void ConsoleOutputTheWritersCannotRepresentStillGivesAVerdict()
    {
        using var scratch = new Scratch("console");
        var cache = scratch.CacheWithSharedKernel();
        var outDir = scratch.Path_("out");
        var script = Path.Combine(scratch.Dir("tests"), "noise.sh");
        // A control character after "BUG:", Arabic-Indic digits in a timestamp, and a byte that is not UTF-8.
        File.WriteAllText(script, "#!/bin/sh\nprintf 'BUG: \\001\\002 oops \\377\\n[\u0661.\u0665] stamp\\n' > /dev/console\nexit 0\n");

        var run = Run(Args(cache, outDir, "--test=" + script));

        AssertFails(run, 1, "no-kernel-errors", "BUG:");
        var boot = Path.Combine(outDir, "boot");
        Assert.That(Scratch.Listing(boot), Has.None.Contains(".tmp"), "a report writer left a temporary file");
        using (var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(boot, "results.json"))))
            Assert.That(results.RootElement.GetProperty("passed").GetBoolean(), Is.False);
        var junit = XDocument.Load(Path.Combine(boot, "junit.xml"));
        Assert.That(junit.Descendants("failure").Select(f => f.Parent!.Attribute("name")!.Value), Does.Contain("no-kernel-errors"));
    }

    /// <summary>microvm has no ACPI: the guest's poweroff halts it and QEMU stays up, as any machine without a way to switch off.</summary>
    [Test]
    public void GuestPowerOffEndsTheBootAtOnce()
    {
        using var scratch = new Scratch("poweroff");
        var cache = scratch.CacheWithSharedKernel();
        var outDir = scratch.Path_("out");
        var script = Path.Combine(scratch.Dir("tests"), "off.sh");
        File.WriteAllText(script, "#!/bin/sh\npoweroff -f\nsleep 1000\n");
        // And a junit.xml that cannot be replaced (a directory in its place): the verdict must survive losing it.
        File.WriteAllText(Path.Combine(scratch.Dir("out/boot/junit.xml"), "keep"), "");

        var run = Run(Args(cache, outDir, "--test=" + script, "--machine=microvm", "--timeout=100"));

        AssertFails(run, 1, "test:off.sh", "powered off", "Could not write", "junit.xml", "The verdict below stands without it");
        Assert.That(File.Exists(Path.Combine(outDir, "boot", "results.json")), Is.True);
        Assert.That(run.Output, Does.Not.Contain("timed out"));
        Assert.That(run.Duration, Is.LessThan(TimeSpan.FromSeconds(60)), "the boot waited for --timeout after the guest powered off");
    }
}
