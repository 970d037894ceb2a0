using System.Text.Json;
using Kiln.Kernel.Bisect;

namespace Kiln.Tests.Bisect;

public sealed class BisectReportTests
{
    private static CommitInfo Commit(char c, string subject) => new(new string(c, 40), subject, "Dev <dev@example.org>", "2025-01-01T00:00:00+00:00");

    [Test]
    public void Report_holds_the_first_bad_commit_the_steps_and_the_log()
    {
        var range = new BisectRange("/src/linux", Commit('a', "base"), Commit('e', "last"), 4, new Kiln.Kernel.Versions.KernelVersion(6, 1, 192));
        var steps = new[]
        {
            new StepRecord(1, new string('b', 40), "breaks the build", StepVerdict.Skip, 125, StepPhase.Build, "build failed: init/main.c", 3, 40, 0, 43, "/out/bisect/01-bbbbbbbbbbbb"),
            new StepRecord(2, new string('c', 40), "panics", StepVerdict.Bad, 1, StepPhase.Boot, "no-kernel-errors: Kernel panic", 3, 20, 2, 25, "/out/bisect/02-cccccccccccc"),
        };
        var outcome = new BisectOutcome(BisectStatus.Found, range, Commit('c', "panics"), true, [], steps,
            ["# first bad commit: [" + new string('c', 40) + "] panics"], BisectBound.MaxDecidingSteps(4), TimeSpan.FromSeconds(70), null);
        var dir = Directory.CreateTempSubdirectory("kiln-bisect-report").FullName;

        var path = BisectReport.Write(outcome, dir);

        var text = File.ReadAllText(path);
        Assert.That(text, Does.Contain("Dev <dev@example.org>"), "readable, not \\u003C-escaped");
        using var json = JsonDocument.Parse(text);
        var root = json.RootElement;
        Assert.That(root.GetProperty("status").GetString(), Is.EqualTo("found"));
        Assert.That(root.GetProperty("firstBad").GetProperty("sha").GetString(), Is.EqualTo(new string('c', 40)));
        Assert.That(root.GetProperty("firstBad").GetProperty("tested").GetBoolean(), Is.True);
        Assert.That(root.GetProperty("version").GetString(), Is.EqualTo("6.1.192"));
        Assert.That(root.GetProperty("maxDecidingSteps").GetInt32(), Is.EqualTo(3));
        Assert.That(root.GetProperty("withinBound").GetBoolean(), Is.True);
        var first = root.GetProperty("steps")[0];
        Assert.That(first.GetProperty("verdict").GetString(), Is.EqualTo("skip"));
        Assert.That(first.GetProperty("exitCode").GetInt32(), Is.EqualTo(125));
        Assert.That(first.GetProperty("buildSeconds").GetDouble(), Is.EqualTo(40));
        Assert.That(root.GetProperty("log")[0].GetString(), Does.StartWith("# first bad commit"));
        Directory.Delete(dir, recursive: true);
    }

    [Test]
    public void Plans_and_step_records_round_trip()
    {
        var dir = Directory.CreateTempSubdirectory("kiln-bisect-plan").FullName;
        var plan = new BisectPlan
        {
            Worktree = "/c/bisect/linux-x/worktree", BuildDir = "/c/bisect/linux-x/build",
            StepsDirectory = dir, StepsFile = Path.Combine(dir, "steps.jsonl"),
            PatchBootExpectations = new Dictionary<string, IReadOnlyList<string>> { ["0001-x.patch"] = ["Kiln marker"] },
        };
        plan.Save(Path.Combine(dir, "plan.json"));
        var loaded = BisectPlan.Load(Path.Combine(dir, "plan.json"));
        // Collections compare by reference in records: compare them on their own.
        Assert.That(loaded with { PatchBootExpectations = plan.PatchBootExpectations }, Is.EqualTo(plan));
        Assert.That(loaded.PatchBootExpectations["0001-x.patch"], Is.EqualTo(new[] { "Kiln marker" }));

        var record = new StepRecord(1, new string('d', 40), "x", StepVerdict.Good, 0, StepPhase.Boot, "booted", 1, 2, 3, 6, dir)
        {
            MakeSeconds = 3, QemuSeconds = 2.5, FinishedAt = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero),
        };
        record.AppendTo(plan.StepsFile);
        (record with { Number = 2 }).AppendTo(plan.StepsFile);
        Assert.That(StepRecord.ReadAll(plan.StepsFile), Is.EqualTo(new[] { record, record with { Number = 2 } }));
        Directory.Delete(dir, recursive: true);
    }

    [Test]
    public void A_steps_total_runs_from_the_end_of_the_step_before_and_its_overhead_is_what_make_and_QEMU_do_not_take()
    {
        var start = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
        StepRecord Step(int number, double inProcess, double make, double qemu, double finishedAfter) =>
            new(number, new string('a', 40), "s", StepVerdict.Good, 0, StepPhase.Boot, "", 1, 2, 3, inProcess, "")
            {
                MakeSeconds = make, QemuSeconds = qemu, FinishedAt = start.AddSeconds(finishedAfter),
            };

        // The first step's checkout and process start (2 s before its own 40 s), then 1 s between the steps.
        var steps = StepRecord.WithTotalsSince(start, [Step(1, 40, 30, 8, 42), Step(2, 20, 12, 6, 63)]);

        Assert.That(steps.Select(s => s.TotalSeconds), Is.EqualTo(new[] { 42.0, 21.0 }));
        Assert.That(steps.Select(s => s.OverheadSeconds), Is.EqualTo(new[] { 4.0, 3.0 }));
        var range = new BisectRange("/src/linux", new CommitInfo(new string('a', 40), "a", "A", "d"), new CommitInfo(new string('b', 40), "b", "B", "d"), 2, null);
        var outcome = new BisectOutcome(BisectStatus.Found, range, null, false, [], steps, [], 2, TimeSpan.FromSeconds(70), null)
        {
            WorktreeSeconds = 0.4, WorktreeReused = true,
        };
        var json = BisectReport.ToJson(outcome);
        Assert.That(json["maxOverheadSeconds"]!.GetValue<double>(), Is.EqualTo(4.0));
        Assert.That(json["worktreeReused"]!.GetValue<bool>(), Is.True);
        Assert.That(json["steps"]![1]!["overheadSeconds"]!.GetValue<double>(), Is.EqualTo(3.0));
        Assert.That(json["steps"]![1]!["makeSeconds"]!.GetValue<double>(), Is.EqualTo(12.0));
        Assert.That(json["steps"]![1]!["qemuSeconds"]!.GetValue<double>(), Is.EqualTo(6.0));
    }
}
