using Kiln.Build.Hosting;
using Cake.Frosting;
using Kiln.Build;
using NUnit.Framework;

namespace Kiln.Tests.Host;

public class CommandLineTests
{
    private static CommandLine Parse(params string[] args) => CommandLine.Parse(args, BuildArguments.All);

    [Test]
    public void NameEqualsValue()
    {
        var c = Parse("--target=Setup", "--kernel=6.1", "--append=console=ttyS0 quiet");
        Assert.That(c.Target, Is.EqualTo("Setup"));
        Assert.That(c.Arguments["kernel"], Is.EqualTo(new[] { "6.1" }));
        Assert.That(c.Arguments["append"], Is.EqualTo(new[] { "console=ttyS0 quiet" }), "only the first = separates");
        Assert.That(c.Arguments.Contains("target"), Is.False, "host options are not build arguments");
    }

    [Test]
    public void NameSpaceValue()
    {
        var c = Parse("--target", "CacheKey", "--kernel", "6.6", "--jobs", "4");
        Assert.That(c.Target, Is.EqualTo("CacheKey"));
        Assert.That(c.Arguments["kernel"].Single(), Is.EqualTo("6.6"));
        Assert.That(c.Arguments["jobs"].Single(), Is.EqualTo("4"));
    }

    [Test]
    public void FlagsNeedNoValueAndDoNotSwallowTheNextArgument()
    {
        var c = Parse("--no-cache", "--dryrun", "--kernel=6.1");
        Assert.That(c.DryRun, Is.True);
        Assert.That(c.Arguments["no-cache"].Single(), Is.EqualTo("true"));
        Assert.That(c.Arguments["kernel"].Single(), Is.EqualTo("6.1"));
        Assert.That(Parse("--dryrun=false").DryRun, Is.False);
        Assert.That(Parse().DryRun, Is.False);
        Assert.That(Parse("-h").Help, Is.True);
        Assert.That(Parse("--tree").Tree, Is.True);
    }

    [Test]
    public void NamesAreCaseInsensitiveAndRepeatable()
    {
        var c = Parse("--Kernel=6.1", "--test=a.sh", "--test", "b.sh");
        Assert.That(c.Arguments["kernel"].Single(), Is.EqualTo("6.1"));
        Assert.That(c.Arguments["test"], Is.EqualTo(new[] { "a.sh", "b.sh" }));
        Assert.That(Parse("--target=A", "--target=B").Target, Is.EqualTo("B"), "last one wins");
    }

    [Test]
    public void UnknownArgumentSuggestsTheNearestAndListsAll()
    {
        var e = Assert.Throws<CommandLineException>(() => Parse("--kernal=6.1"))!;
        Assert.That(e.Message, Does.Contain("'--kernal'").And.Contain("Did you mean 'kernel'?"));
        foreach (var a in BuildArguments.All) Assert.That(e.Message, Does.Contain("--" + a.Name));
    }

    [Test]
    public void FarOffArgumentGetsNoSuggestion()
    {
        var e = Assert.Throws<CommandLineException>(() => Parse("--frobnicate"))!;
        Assert.That(e.Message, Does.Not.Contain("Did you mean"));
    }

    [TestCase("--kernel")]
    [TestCase("--kernel=")]
    [TestCase("--kernel", "--arch=x86_64")]
    public void MissingValueSaysWhatToGive(params string[] args)
    {
        var e = Assert.Throws<CommandLineException>(() => Parse(args))!;
        Assert.That(e.Message, Does.Contain("--kernel").And.Contain("needs a value").And.Contain("--kernel=VERSION"));
    }

    [TestCase("Setup")]
    [TestCase("-kernel=6.1")]
    [TestCase("--")]
    public void PositionalOrSingleDashIsRejected(string arg)
    {
        var e = Assert.Throws<CommandLineException>(() => Parse(arg))!;
        Assert.That(e.Message, Does.Contain(arg).And.Contain("--name=value"));
    }

    [Test]
    public void DeclaredArgumentsAreUniqueAndDescribed()
    {
        var names = BuildArguments.All.Concat(CommandLine.HostOptions).Select(a => a.Name.ToLowerInvariant()).ToList();
        Assert.That(names, Is.Unique);
        Assert.That(BuildArguments.All.Concat(CommandLine.HostOptions).Select(a => a.Description), Has.None.Empty);
        Assert.That(names, Is.SupersetOf(new[] { "target", "kernel", "arch", "variant", "source", "mirror", "jobs", "out", "cache-dir", "no-cache", "timeout", "verbosity" }),
            "the arguments DESIGN.md promises");
    }
}

public class TaskGraphTests
{
    /// <summary>The pipeline in the README's order ("BootTest runs Setup, Patch, Configure, BuildKernel, BootTest"; PackageStage1 after BootTest).</summary>
    public static readonly string[] Pipeline = { "Setup", "Patch", "Configure", "BuildKernel", "BootTest", "PackageStage1" };

    internal static IReadOnlyList<TaskDefinition> Tasks => TaskDefinition.Discover(new[] { typeof(BuildContext).Assembly });

    [Test]
    public void DiscoversTheTasks()
    {
        Assert.That(Tasks.Select(t => t.Name), Is.SupersetOf(new[] { "Setup", "CacheKey" }));
        Assert.That(Tasks.Select(t => t.Name), Is.Unique);
        Assert.That(Tasks.Select(t => t.Description), Has.None.Empty, "--help shows every task's description");
    }

    [Test]
    public void DependenciesNameExistingTasksWithoutCycles()
    {
        var byName = Tasks.ToDictionary(t => t.Name);
        foreach (var t in Tasks)
            foreach (var d in t.Dependencies)
                Assert.That(byName.ContainsKey(d), $"{t.Name} depends on unknown task {d}");
        foreach (var t in Tasks)
            Assert.That(Closure(t.Name), Does.Not.Contain(t.Name), $"{t.Name} depends on itself");
    }

    [Test]
    public void EachPipelineTaskRunsAfterTheOnesBeforeIt()
    {
        Assert.That(Tasks.Select(t => t.Name), Is.SupersetOf(Pipeline), "every pipeline task exists");
        for (var i = 1; i < Pipeline.Length; i++)
            Assert.That(Closure(Pipeline[i]), Does.Contain(Pipeline[i - 1]), $"{Pipeline[i]} must (transitively) depend on {Pipeline[i - 1]}");
    }

    internal static HashSet<string> Closure(string task)
    {
        var byName = Tasks.ToDictionary(t => t.Name);
        var seen = new HashSet<string>();
        var stack = new Stack<string>(byName[task].Dependencies);
        while (stack.Count > 0)
        {
            var d = stack.Pop();
            if (!seen.Add(d) || !byName.TryGetValue(d, out var def)) continue;
            foreach (var x in def.Dependencies) stack.Push(x);
        }
        return seen;
    }
}
