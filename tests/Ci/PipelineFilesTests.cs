using Kiln.Build.Hosting;
using System.Reflection;
using System.Text.RegularExpressions;
using Cake.Frosting;
using Kiln.Build;
using Kiln.Kernel;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Versions;
using Kiln.Tests.Integration;
using YamlDotNet.RepresentationModel;

namespace Kiln.Tests.Ci;

/// <summary>
/// The example pipelines in ci/ are documentation that must keep working: they parse, have the expected
/// shape, call only real targets with real arguments, read only outputs Kiln writes, take their kernel jobs from
/// --target=Matrix and check the pushed image indexes with ci/check-index.py.
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

    /// <summary>A matrix entry (a clang one, the longest arguments): what a kernel job gets.</summary>
    private static MatrixEntry SampleEntry { get; } = BuildMatrix.Entry(KilnRun.RepoRoot,
        ConfigVersion.Load(Path.Combine(KilnRun.RepoRoot, "kata_config_version")),
        VersionsManifest.Load(Path.Combine(KilnRun.RepoRoot, "versions.yaml")).Series["6.1"].Version, Arch.Arm64, "dbg", Toolchain.Clang);

    /// <summary>
    /// Each ./build.sh call in a script, as the argument list the host would get: a matrix entry's arguments
    /// (<c>${{ matrix.args }}</c>, GitLab's <c>$ARGS</c>) are a real entry's, any other expression one value.
    /// </summary>
    private static List<string[]> BuildCalls(YamlNode node) =>
        Scalars(node).SelectMany(s => s.Split('\n'))
            .Where(line => line.Contains("./build.sh"))
            .Select(line => line.Replace("${{ matrix.args }}", SampleEntry.Args).Replace("$ARGS", SampleEntry.Args))
            .Select(line => Expression().Replace(line, "VALUE"))
            .Select(line => line[(line.IndexOf("./build.sh", StringComparison.Ordinal) + "./build.sh".Length)..])
            .Select(rest => rest.Split(new[] { "&&", ";", "|" }, StringSplitOptions.None)[0])
            .Select(rest => rest.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToList();

    [TestCase("github-actions.yml")]
    [TestCase("gitlab-ci.yml", "gitlab-kernel.yml")]
    public void Every_build_call_names_a_real_target_and_real_arguments(params string[] files)
    {
        var calls = files.SelectMany(file => BuildCalls(Load(file))).ToList();
        Assert.That(calls, Is.Not.Empty);
        var targets = new List<string>();
        foreach (var call in calls)
        {
            CommandLine parsed = null!;
            Assert.DoesNotThrow(() => parsed = CommandLine.Parse(call, BuildArguments.All), $"{files[0]}: ./build.sh {string.Join(' ', call)}");
            Assert.That(parsed.Target, Is.Not.Null, $"{files[0]}: every call names its target");
            Assert.That(Targets, Does.Contain(parsed.Target), $"{files[0]}: --target={parsed.Target} is not a Kiln target");
            targets.Add(parsed.Target!);
            if (parsed.Target is "BootTest" or "PackageStage1")
                Assert.That(string.Join(' ', call), Does.Contain(SampleEntry.Args), $"{files[0]}: a kernel job builds its matrix entry");
            if (parsed.Target == "PackageStage1")
                Assert.That(parsed.Arguments["push"], Is.Empty, $"{files[0]}: the push target comes from KILN_PUSH, set on the default branch only");
        }
        // Each job pushes its arch on the default branch, through the variable --push reads; pull requests package only.
        var text = string.Join("\n", files.Select(f => File.ReadAllText(CiFile(f))));
        Assert.That(Kiln.Kernel.Pipeline.KilnOptions.Arguments.Single(a => a.Name == "push").Environment, Is.EqualTo("KILN_PUSH"));
        Assert.That(text, Does.Match(@"KILN_PUSH(: \$\{\{ \(github\.event_name == 'push' && github\.ref_name == github\.event\.repository\.default_branch\) && format\('docker://|=""docker://)"));
        if (text.Contains("export KILN_PUSH", StringComparison.Ordinal))
            Assert.That(text, Does.Contain("if [ \"$CI_COMMIT_BRANCH\" = \"$CI_DEFAULT_BRANCH\" ]; then export KILN_PUSH="));
        // The kernel jobs come from the job list; each runs key, (analysis), boot test, package, in order.
        Assert.That(targets, Does.Contain("Matrix"));
        Assert.That(targets.Where(t => t is "CacheKey" or "BootTest" or "PackageStage1"), Is.EqualTo(new[] { "CacheKey", "BootTest", "PackageStage1" }));
    }

    private static IList<YamlNode> Steps(YamlNode job) => ((YamlSequenceNode)Child(job, "steps")!).Children;

    [Test]
    public void GitHub_workflow_plans_with_Matrix_builds_each_entry_and_checks_the_indexes_after_every_job()
    {
        var root = Load("github-actions.yml");
        Assert.That(Child(root, "on"), Is.Not.Null);
        var jobs = ((YamlMappingNode)Child(root, "jobs")!).Children.ToDictionary(p => Text(p.Key), p => p.Value);
        Assert.That(jobs.Keys, Is.EquivalentTo(new[] { "plan", "kernel", "index" }));
        foreach (var (name, job) in jobs)
        {
            Assert.That(Text(Child(job, "runs-on")), Is.Not.Empty, $"job {name}");
            var steps = Steps(job);
            Assert.That(steps, Is.Not.Empty);
            foreach (var step in steps)
                Assert.That(Child(step, "uses") ?? Child(step, "run"), Is.Not.Null, $"job {name}: a step without uses or run");

            var ids = steps.Select(s => Text(Child(s, "id"))).Where(i => i.Length > 0).ToList();
            // Every steps.<id>.outputs.<name> refers to a step of the job and to a name Kiln writes.
            foreach (Match reference in StepOutput().Matches(string.Join("\n", Scalars(job))))
            {
                Assert.That(ids, Does.Contain(reference.Groups[1].Value), reference.Value);
                Assert.That(CiKeys.All, Does.Contain(reference.Groups[2].Value), reference.Value);
            }
        }

        // plan: the job list is Matrix's output.
        var plan = jobs["plan"];
        var matrixStep = Steps(plan).Single(s => BuildCalls(s).Any(c => c.Contains("--target=Matrix")));
        Assert.That(Text(Child(Child(plan, "outputs")!, "matrix")), Is.EqualTo($"${{{{ steps.{Text(Child(matrixStep, "id"))}.outputs.{CiKeys.Matrix} }}}}"));

        // kernel: one job per entry, each reading only fields an entry has.
        var kernel = jobs["kernel"];
        Assert.That(Text(Child(Child(kernel, "strategy")!, "matrix")), Is.EqualTo("${{ fromJSON(needs.plan.outputs.matrix) }}"));
        Assert.That(Text(Child(kernel, "needs")), Is.EqualTo("plan"));
        using var entry = System.Text.Json.JsonDocument.Parse(BuildMatrix.ToJson([SampleEntry]));
        var fields = entry.RootElement.GetProperty("include")[0].EnumerateObject().Select(p => p.Name).ToList();
        foreach (Match reference in MatrixField().Matches(string.Join("\n", Scalars(kernel))))
            Assert.That(fields, Does.Contain(reference.Groups[1].Value), reference.Value);
        var kernelSteps = Steps(kernel).ToList();
        var kernelIds = kernelSteps.Select(s => Text(Child(s, "id"))).ToList();
        var cache = kernelSteps.Single(s => Text(Child(s, "uses")).StartsWith("actions/cache@", StringComparison.Ordinal));
        Assert.That(Text(Child(Child(cache, "with")!, "key")), Is.EqualTo("${{ matrix.cache_key }}"));
        Assert.That(kernelSteps.IndexOf(cache), Is.GreaterThan(kernelIds.IndexOf("key")), "the stale-cache guard runs first");
        var boot = kernelSteps.Single(s => Text(Child(s, "id")) == "boot");
        var uploads = kernelSteps.Where(s => Text(Child(s, "uses")).StartsWith("actions/upload-artifact@", StringComparison.Ordinal)).ToList();
        Assert.That(uploads.Select(u => Text(Child(Child(u, "with")!, "name"))), Has.All.Contains("${{ matrix.name }}"), "artifact names are unique per job");
        Assert.That(Text(Child(uploads[0], "if")), Is.EqualTo("always()"), "boot results are uploaded when the boot fails too");
        Assert.That(kernelSteps.IndexOf(uploads[0]), Is.GreaterThan(kernelSteps.IndexOf(boot)));

        // index: after every kernel job, the check of what they pushed against the job list.
        var index = jobs["index"];
        Assert.That(((YamlSequenceNode)Child(index, "needs")!).Children.Select(Text), Is.EquivalentTo(new[] { "plan", "kernel" }));
        var check = string.Join("\n", Scalars(index));
        Assert.That(check, Does.Contain("python3 ci/check-index.py \"$KILN_IMAGES\""));
        Assert.That(check, Does.Contain("needs.plan.outputs.matrix"));
        Assert.That(Text(Child(Child(root, "env")!, "KILN_IMAGES")), Is.Not.Empty, "the repository --push and the check name");
    }

    [GeneratedRegex(@"\bmatrix\.([a-z_]+)")]
    private static partial Regex MatrixField();

    [GeneratedRegex(@"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)")]
    private static partial Regex StepOutput();

    [Test]
    public void GitLab_pipeline_jobs_have_known_stages_needs_and_dotenv_reports_from_ci_output()
    {
        var root = Load("gitlab-ci.yml");
        var stages = ((YamlSequenceNode)Child(root, "stages")!).Children.Select(Text).ToList();
        var jobs = root.Children.Where(p => Child(p.Value, "script") is not null || Child(p.Value, "trigger") is not null)
            .ToDictionary(p => Text(p.Key), p => p.Value);
        Assert.That(jobs.Keys, Is.SupersetOf(new[] { "cache-key", "matrix", "kernels", "index" }));
        foreach (var (name, job) in jobs)
        {
            Assert.That(stages, Does.Contain(Text(Child(job, "stage"))), $"job {name}");
            if (Child(job, "needs") is YamlSequenceNode needs)
                foreach (var need in needs.Children)
                {
                    Assert.That(jobs.Keys, Does.Contain(Text(need)), $"job {name} needs an unknown job");
                    Assert.That(stages.IndexOf(Text(Child(jobs[Text(need)], "stage"))), Is.LessThan(stages.IndexOf(Text(Child(job, "stage")))));
                }
            AssertDotenvIsWritten(name, job);
        }

        // The kernel jobs are a child pipeline made from Matrix's job list; the index check runs after all of them.
        var matrixScript = string.Join("\n", Scalars(Child(jobs["matrix"], "script")!));
        Assert.That(matrixScript, Does.Contain("python3 ci/gitlab-child-pipeline.py artifacts/matrix/matrix.json > kernels.yml"));
        var trigger = Child(jobs["kernels"], "trigger")!;
        Assert.That(Text(Child(trigger, "strategy")), Is.EqualTo("depend"), "the index check waits for every kernel job");
        var include = ((YamlSequenceNode)Child(trigger, "include")!).Children.Single();
        Assert.That((Text(Child(include, "artifact")), Text(Child(include, "job"))), Is.EqualTo(("kernels.yml", "matrix")));
        Assert.That(((YamlSequenceNode)Child(jobs["index"], "needs")!).Children.Select(Text), Is.EquivalentTo(new[] { "matrix", "kernels" }));
        Assert.That(string.Join("\n", Scalars(Child(jobs["index"], "script")!)),
            Does.Contain("python3 ci/check-index.py \"$KILN_IMAGES\" artifacts/matrix/matrix.json"));

        var kernelJob = Child(Load("gitlab-kernel.yml"), ".kiln-kernel")!;
        AssertDotenvIsWritten(".kiln-kernel", kernelJob);
        Assert.That(Text(Child(Child(kernelJob, "cache")!, "key")), Is.EqualTo("$CACHE_KEY"));
        var junit = Text(Child(Child(Child(kernelJob, "artifacts")!, "reports")!, "junit"));
        Assert.That(junit, Does.EndWith("boot/junit.xml"));
        Assert.That(Text(Child(Child(kernelJob, "artifacts")!, "when")), Is.EqualTo("always"));
    }

    /// <summary>A dotenv report must be the file that job's Kiln call writes with --ci-output.</summary>
    private static void AssertDotenvIsWritten(string name, YamlNode job)
    {
        var dotenv = Text(Child(Child(Child(job, "artifacts") ?? new YamlMappingNode(), "reports") ?? new YamlMappingNode(), "dotenv"));
        if (dotenv.Length > 0)
            Assert.That(BuildCalls(Child(job, "script")!).SelectMany(c => c), Does.Contain("--ci-output=" + dotenv), $"job {name}");
    }

    private static bool HasPython => Prerequisites.OnPath("python3");

    /// <summary>Runs a script of ci/ with python3; <paramref name="path"/> goes in front of PATH.</summary>
    private static (int ExitCode, string Output) Python(string script, string? stdin, string? path, params string[] args)
    {
        Prerequisite.Require(HasPython, "python3 is not installed");
        var start = new System.Diagnostics.ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(CiFile(script));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        if (path is not null) start.Environment["PATH"] = path + ":" + Environment.GetEnvironmentVariable("PATH");
        using var process = System.Diagnostics.Process.Start(start)!;
        process.StandardInput.Write(stdin ?? "");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result + error);
    }

    [Test]
    public void The_GitLab_child_pipeline_has_one_kiln_kernel_job_per_matrix_entry()
    {
        using var dir = new Kiln.Tests.Host.TempDir();
        var entries = new[] { Toolchain.Gcc, Toolchain.Clang }.Select(t => SampleEntry with { Name = "6.1-arm64-dbg" + (t == Toolchain.Gcc ? "" : "-clang") }).ToList();
        var matrix = Path.Combine(dir.Path, "matrix.json");
        File.WriteAllText(matrix, BuildMatrix.ToJson(entries, indented: true));

        var (exit, output) = Python("gitlab-child-pipeline.py", null, null, matrix);
        Assert.That(exit, Is.EqualTo(0), output);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(output));
        var child = (YamlMappingNode)yaml.Documents.Single().RootNode;
        Assert.That(Text(Child(((YamlSequenceNode)Child(child, "include")!).Children.Single(), "local")), Is.EqualTo("ci/gitlab-kernel.yml"));
        Assert.That(File.Exists(CiFile("gitlab-kernel.yml")));
        foreach (var entry in entries)
        {
            var job = Child(child, entry.Name)!;
            Assert.That(Text(Child(job, "extends")), Is.EqualTo(".kiln-kernel"));
            Assert.That((Text(Child(Child(job, "variables")!, "ARGS")), Text(Child(Child(job, "variables")!, "CACHE_KEY"))), Is.EqualTo((entry.Args, entry.CacheKey)));
        }
        Assert.That(Python("gitlab-child-pipeline.py", null, null).ExitCode, Is.EqualTo(2), "usage");
    }

    [Test]
    public void The_index_check_passes_when_every_index_lists_its_arches_and_names_what_is_missing()
    {
        using var dir = new Kiln.Tests.Host.TempDir();
        var version = VersionsManifest.Load(Path.Combine(KilnRun.RepoRoot, "versions.yaml")).Series["6.1"].Version;
        var counter = ConfigVersion.Load(Path.Combine(KilnRun.RepoRoot, "kata_config_version"));
        var entries = BuildMatrix.Expand(KilnRun.RepoRoot, counter, [version], [Arch.X86_64, Arch.Arm64], [""], Toolchain.All);
        var gcc = entries.First().IndexTag;
        // A stand-in skopeo: the gcc index lists both arches (and riscv64 from another run), the clang one only amd64.
        var bin = Path.Combine(dir.Path, "bin");
        Directory.CreateDirectory(bin);
        File.WriteAllText(Path.Combine(bin, "skopeo"), $$$"""
            #!/bin/sh
            for a; do ref=$a; done
            echo "$*" >> {{{dir.Path}}}/calls
            case "$ref" in
              *:{{{gcc}}}) echo '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"platform":{"architecture":"amd64","os":"linux"}},{"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},{"platform":{"architecture":"riscv64","os":"linux"}}]}' ;;
              *:{{{gcc}}}-clang) echo '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"platform":{"architecture":"amd64","os":"linux"}}]}' ;;
              *) echo "manifest unknown" >&2; exit 1 ;;
            esac
            """);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(bin, "skopeo"), (UnixFileMode)0x1ed);

        var complete = BuildMatrix.ToJson(entries.Where(e => e.Toolchain == "gcc").ToList());
        var passed = Python("check-index.py", complete, bin, "docker://registry.example/kernels", "-", "--tls-verify=false");
        Assert.That(passed.ExitCode, Is.EqualTo(0), passed.Output);
        Assert.That(passed.Output, Does.Contain($"docker://registry.example/kernels:{gcc}: lists amd64, arm64, riscv64"));
        Assert.That(File.ReadAllText(Path.Combine(dir.Path, "calls")), Does.Contain($"inspect --raw --tls-verify=false docker://registry.example/kernels:{gcc}"));

        var missing = Python("check-index.py", BuildMatrix.ToJson(entries), bin, "registry.example/kernels", "-");
        Assert.That(missing.ExitCode, Is.EqualTo(1), missing.Output);
        Assert.That(missing.Output, Does.Contain($"docker://registry.example/kernels:{gcc}-clang: lists amd64; MISSING arm64"));

        var unreadable = Python("check-index.py", BuildMatrix.ToJson([SampleEntry with { IndexTag = "nosuch" }]), bin, "registry.example/kernels", "-");
        Assert.That(unreadable.ExitCode, Is.EqualTo(1), unreadable.Output);
        Assert.That(unreadable.Output, Does.Contain("nosuch: skopeo inspect failed: manifest unknown"));
        Assert.That(Python("check-index.py", null, bin).ExitCode, Is.EqualTo(2), "usage");
    }
}
