using System.Security.Cryptography;
using System.Text;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
using Kiln.Kernel.Pipeline;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.ConfigSearch;

/// <summary>A culprit option of a config bisect with what the Kconfig files say of it.</summary>
public sealed record CulpritOption(OptionChange Change, IReadOnlyList<string> Kconfig, IReadOnlyList<string> Help);

/// <summary>A finished ConfigBisect: the outcome, its culprits explained, the report and the last good and first bad configs.</summary>
public sealed record ConfigBisectResult(ConfigBisectOutcome Outcome, IReadOnlyList<CulpritOption> Culprits, string Report, string StepsDirectory,
    string LastGoodConfig, string FirstBadConfig);

/// <summary>A MinConfig run: where it stopped, the fragment of the best config so far, the report and the state it resumes from.</summary>
public sealed record MinConfigResult(MinConfigOutcome Outcome, string Fragment, string Report, string StepsDirectory, string StatePath);

/// <summary>
/// The ConfigBisect and MinConfig targets: the patched tree BootTest builds (or --source), the searches' build directory
/// beside the target's, the configs read and made consistent there, the search, and its report.
/// </summary>
public sealed class ConfigSearchSession(KernelPipeline pipeline, IKilnLog log)
{
    public const string Bisect = "config-bisect";
    public const string Minimize = "min-config";

    private KilnOptions Options => pipeline.Options;
    private KilnPaths Paths => pipeline.Target.Paths;

    public ConfigBisectResult RunBisect(Acquired acquired, Patched? patched)
    {
        var good = SearchConfigFile.Load("good-config", Options.GoodConfig!, Options.Arch);
        var bad = SearchConfigFile.Load("bad-config", Options.BadConfig!, Options.Arch);
        if (OptionSet.From(good).SameAs(OptionSet.From(bad)))
            throw KilnException.BadInput($"--good-config={good.Path} and --bad-config={bad.Path} set every option alike: there is nothing to bisect. " +
                                         "Pass the .config of the kernel that fails as --bad-config.");
        var (workspace, trials, steps) = Prepare(acquired, (patched ?? pipeline.Patch(acquired)).Workspace, Bisect);
        using var held = CacheLock.Acquire(Paths.ConfigSearchLock(workspace.BuildDir), log);
        var goodSet = trials.Normalize(OptionSet.From(good));
        var badSet = trials.Normalize(OptionSet.From(bad));
        if (goodSet.SameAs(badSet))
            throw KilnException.BadInput($"--good-config={good.Path} and --bad-config={bad.Path} differ only in options make olddefconfig resets on this tree " +
                                         $"({ConfigBisector.Summary(OptionSet.From(good).ChangesTo(OptionSet.From(bad)))}): built, they are the same kernel.");

        var outcome = new ConfigBisector(trials, log).Run(goodSet, badSet);
        var index = KconfigIndex.Load(workspace.SourceDir, Options.Arch);
        var verifier = new ConfigVerifier(index);
        var badConfig = KernelConfig.Parse(outcome.Bad.Render());
        var culprits = outcome.Culprits.Select(c => new CulpritOption(c, verifier.Describe(c.Symbol, badConfig),
            index.Find(c.Symbol) is { } symbol ? KconfigReader.HelpText(workspace.SourceDir, symbol.Definitions[0].Location) : [])).ToList();
        var lastGood = Path.Combine(steps, "last-good.config");
        var firstBad = Path.Combine(steps, "first-bad.config");
        AtomicFile.WriteAllText(lastGood, outcome.Good.Render());
        AtomicFile.WriteAllText(firstBad, outcome.Bad.Render());
        var report = ConfigSearchReport.WriteBisect(outcome, culprits, good.Path!, bad.Path!, Path.Combine(Paths.OutDir, Bisect + ".json"));
        return new ConfigBisectResult(outcome, culprits, report, steps, lastGood, firstBad);
    }

    /// <summary>Found is success; a good end that fails or a bad end that passes is bad input (exit 2), saying what was built.</summary>
    public static void Conclude(ConfigBisectOutcome outcome)
    {
        if (outcome.Status != ConfigBisectStatus.Found)
            throw KilnException.BadInput($"ConfigBisect cannot start: {outcome.Problem}. It built {outcome.Builds} config(s) to check the two ends; " +
                                         "--good-config must pass and --bad-config must fail.");
    }

    public MinConfigResult RunMinConfig(Acquired acquired, Patched? patched)
    {
        var target = (patched ?? pipeline.Patch(acquired)).Workspace;
        KernelConfig start;
        if (Options.StartConfig is { } file)
        {
            start = SearchConfigFile.Load("config", file, Options.Arch);
        }
        else
        {
            pipeline.Configure(target);
            start = KernelConfig.Load(Path.Combine(target.BuildDir, ".config"));
            log.Info($"MinConfig starts from the target's configured {start.Path}");
        }
        var (workspace, trials, steps) = Prepare(acquired, target, Minimize);
        using var held = CacheLock.Acquire(Paths.ConfigSearchLock(workspace.BuildDir), log);
        var startSet = trials.Normalize(OptionSet.From(start));
        var index = KconfigIndex.Load(workspace.SourceDir, Options.Arch);
        // Options without a prompt follow whatever selects them or their default: turning them off by hand never sticks.
        var tunable = index.Symbols.Where(s => s.HasPrompt).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var key = SearchKey(acquired, startSet);
        var statePath = Paths.MinConfigState(key);
        var outcome = new MinConfigSearch(trials, statePath, log).Run(startSet, tunable, key, Options.MaxSteps);
        var fragment = Path.Combine(Paths.OutDir, Minimize + ".conf");
        AtomicFile.WriteAllText(fragment, outcome.Fragment($"Linux {pipeline.Target.Version} {Options.Arch.Name}"));
        var report = ConfigSearchReport.WriteMinConfig(outcome, fragment, statePath, Path.Combine(Paths.OutDir, Minimize + ".json"));
        return new MinConfigResult(outcome, fragment, report, steps, statePath);
    }

    /// <summary>A starting config that does not pass leaves nothing to shrink: exit 2, like a ConfigBisect whose good end fails.</summary>
    public static void Conclude(MinConfigOutcome outcome)
    {
        if (outcome.Status == MinConfigStatus.StartFails)
            throw KilnException.BadInput($"MinConfig cannot start: the starting config does not pass ({outcome.State.Steps[^1].Message}). " +
                                         "Pass one that builds and boots (--config=FILE), or fix the target's.");
    }

    /// <summary>What the search is for: the build's identity (source, patches, fragments, compiler), the start config, the tests and the machine.</summary>
    private string SearchKey(Acquired acquired, OptionSet start)
    {
        var text = new StringBuilder($"identity {acquired.Identity.Hash}\narch {Options.Arch.Name}\nstart {start.Hash}\nmachine {Options.Machine}\nappend {Options.Append}\n");
        foreach (var test in Options.Tests) text.Append($"test {SourceCache.FileSha256(test)}\n");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// The search's build directory beside the target's, its trials, and the directory for its builds' logs: a bisect's
    /// starts empty, MinConfig's keeps the builds of the runs it resumes (numbered on from them).
    /// </summary>
    private (Workspace Workspace, KernelConfigTrials Trials, string Steps) Prepare(Acquired acquired, Workspace target, string search)
    {
        var workspace = target with { BuildDir = KilnPaths.ConfigSearchBuildDirectory(target.BuildDir), Reconfigure = true };
        var steps = Paths.ConfigSearchSteps(search);
        if (search == Bisect && Directory.Exists(steps)) Directory.Delete(steps, recursive: true);
        Directory.CreateDirectory(steps);
        log.Info($"{search}: building {workspace.SourceDir} in {workspace.BuildDir} (ccache {Paths.Ccache}); logs in {steps}");
        return (workspace, new KernelConfigTrials(pipeline, workspace with { Host = acquired.Host }, steps, log), steps);
    }
}
