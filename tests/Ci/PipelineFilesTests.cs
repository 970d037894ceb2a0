using Kiln.Build.Hosting;
using System.Reflection;
using System.Text.RegularExpressions;
using Cake.Frosting;
using Kiln.Build;
using Kiln.Tests.Integration;
using YamlDotNet.RepresentationModel;

namespace Kiln.Tests.Ci;

/// <summary>
/// The example pipelines in ci/ are documentation that must keep working: they parse, have the expected
/// shape, call only real targets with real arguments, and read only outputs Kiln writes.
/// </summary>
[TestFixture]
public sealed partial class PipelineFilesTests
{
    private static string CiFile(string name) => Path.Combine(KilnRun.RepoRoot, "ci", name);

    private static YamlMappingNode Load(string name)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(CiFile(name))) yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents.Single().RootNode;
    }

    private static IReadOnlySet<string> Targets { get; } = typeof(BuildContext).Assembly.GetTypes()
        .Select(t => t.GetCustomAttribute<TaskNameAttribute>()?.Name).OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static YamlNode? Child(YamlNode node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string Text(YamlNode? node) => (node as YamlScalarNode)?.Value ?? "";

    private static IEnumerable<string> Scalars(YamlNode node) => node switch
    {
        YamlScalarNode s => new[] { s.Value ?? "" },
        YamlSequenceNode seq => seq.Children.SelectMany(Scalars),
        YamlMappingNode map => map.Children.SelectMany(p => Scalars(p.Key).Concat(Scalars(p.Value))),
        _ => Array.Empty<string>(),
    };

    [GeneratedRegex(@"\$\{\{.*?\}\}")]
    private static partial Regex Expression();

    /// <summary>Each ./build.sh call in a script, as the argument list the host would get.</summary>
    private static List<string[]> BuildCalls(YamlNode node) =>
        Scalars(node).SelectMany(s => s.Split('\n'))
            .Where(line => line.Contains("./build.sh"))
            .Select(line => Expression().Replace(line, "VALUE"))
            .Select(line => line[(line.IndexOf("./build.sh", StringComparison.Ordinal) + "./build.sh".Length)..])
            .Select(rest => rest.Split(new[] { "&&", ";", "|" }, StringSplitOptions.None)[0])
            .Select(rest => rest.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToList();

    [TestCase("github-actions.yml")]
    [TestCase("gitlab-ci.yml")]
    public void Every_build_call_names_a_real_target_and_real_arguments(string file)
    {
        var calls = BuildCalls(Load(file));
        Assert.That(calls, Is.Not.Empty);
        var targets = new List<string>();
        foreach (var call in calls)
        {
            CommandLine parsed = null!;
            Assert.DoesNotThrow(() => parsed = CommandLine.Parse(call, BuildArguments.All), $"{file}: ./build.sh {string.Join(' ', call)}");
            Assert.That(parsed.Target, Is.Not.Null, $"{file}: every call names its target");
            Assert.That(Targets, Does.Contain(parsed.Target), $"{file}: --target={parsed.Target} is not a Kiln target");
            targets.Add(parsed.Target!);
        }
        // The pipeline's steps, in order: key, (analysis), boot test, package.
        Assert.That(targets.Where(t => t is "CacheKey" or "BootTest" or "PackageStage1"), Is.EqualTo(new[] { "CacheKey", "BootTest", "PackageStage1" }));
    }

    [Test]
    public void GitHub_workflow_has_a_job_whose_steps_restore_by_cache_key_and_upload_results()
    {
        var root = Load("github-actions.yml");
        Assert.That(Child(root, "on"), Is.Not.Null);
        var jobs = (YamlMappingNode)Child(root, "jobs")!;
        Assert.That(jobs.Children, Is.Not.Empty);
        foreach (var (name, job) in jobs.Children)
        {
            Assert.That(Text(Child(job, "runs-on")), Is.Not.Empty, $"job {name}");
            var steps = ((YamlSequenceNode)Child(job, "steps")!).Children;
            Assert.That(steps, Is.Not.Empty);
            foreach (var step in steps)
                Assert.That(Child(step, "uses") ?? Child(step, "run"), Is.Not.Null, $"job {name}: a step without uses or run");

            var ids = steps.Select(s => Text(Child(s, "id"))).Where(i => i.Length > 0).ToList();
            // Every steps.<id>.outputs.<name> refers to an earlier step and to a name Kiln writes.
            foreach (Match reference in StepOutput().Matches(string.Join("\n", Scalars(job))))
            {
                Assert.That(ids, Does.Contain(reference.Groups[1].Value), reference.Value);
                Assert.That(CiKeys.All, Does.Contain(reference.Groups[2].Value), reference.Value);
            }

            var uses = steps.Select(s => Text(Child(s, "uses"))).ToList();
            var cache = steps.Single(s => Text(Child(s, "uses")).StartsWith("actions/cache@", StringComparison.Ordinal));
            Assert.That(Text(Child(Child(cache, "with")!, "key")), Does.Contain("steps.key.outputs.key"));
            Assert.That(steps.IndexOf(cache), Is.GreaterThan(ids.IndexOf("key")));
            Assert.That(uses, Has.Some.StartsWith("actions/upload-artifact@"));
            var boot = steps.Single(s => Text(Child(s, "id")) == "boot");
            var upload = steps.First(s => Text(Child(s, "uses")).StartsWith("actions/upload-artifact@", StringComparison.Ordinal));
            Assert.That(Text(Child(upload, "if")), Is.EqualTo("always()"), "boot results are uploaded when the boot fails too");
            Assert.That(steps.IndexOf(upload), Is.GreaterThan(steps.IndexOf(boot)));
        }
    }

    [GeneratedRegex(@"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)")]
    private static partial Regex StepOutput();

    [Test]
    public void GitLab_pipeline_jobs_have_known_stages_needs_and_dotenv_reports_from_ci_output()
    {
        var root = Load("gitlab-ci.yml");
        var stages = ((YamlSequenceNode)Child(root, "stages")!).Children.Select(Text).ToList();
        var jobs = root.Children.Where(p => Child(p.Value, "script") is not null).ToDictionary(p => Text(p.Key), p => p.Value);
        Assert.That(jobs.Keys, Is.SupersetOf(new[] { "cache-key", "boot-test", "package" }));
        foreach (var (name, job) in jobs)
        {
            Assert.That(stages, Does.Contain(Text(Child(job, "stage"))), $"job {name}");
            if (Child(job, "needs") is YamlSequenceNode needs)
                foreach (var need in needs.Children)
                {
                    Assert.That(jobs.Keys, Does.Contain(Text(need)), $"job {name} needs an unknown job");
                    Assert.That(stages.IndexOf(Text(Child(jobs[Text(need)], "stage"))), Is.LessThan(stages.IndexOf(Text(Child(job, "stage")))));
                }
            // A dotenv report must be the file that job's Kiln call writes with --ci-output.
            var dotenv = Text(Child(Child(Child(job, "artifacts") ?? new YamlMappingNode(), "reports") ?? new YamlMappingNode(), "dotenv"));
            if (dotenv.Length > 0)
                Assert.That(BuildCalls(Child(job, "script")!).SelectMany(c => c), Does.Contain("--ci-output=" + dotenv), $"job {name}");
        }
        var junit = Text(Child(Child(Child(jobs["boot-test"], "artifacts")!, "reports")!, "junit"));
        Assert.That(junit, Does.EndWith("boot/junit.xml"));
        Assert.That(Text(Child(Child(jobs["boot-test"], "artifacts")!, "when")), Is.EqualTo("always"));
    }
}
