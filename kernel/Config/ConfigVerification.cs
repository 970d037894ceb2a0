using System.Text;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Config;

/// <summary>Why a requested option is not in the final .config.</summary>
public enum DropReason
{
    /// <summary>No Kconfig file of this kernel (for this arch) defines the symbol: a typo or a renamed/removed option.</summary>
    UnknownSymbol,
    /// <summary>Its <c>depends on</c> (or an enclosing if/menu/choice condition) is not met.</summary>
    UnmetDependency,
    /// <summary>It has no visible prompt, so only a <c>select</c> (or its default) decides its value.</summary>
    NoPrompt,
    /// <summary>It is set, but to another value (m without MODULES, a select forcing it on, a choice, a range…).</summary>
    ValueDiffers,
    /// <summary>
    /// The value holds but the lines merge_config.sh compares differ (<c>CONFIG_X=n</c> against "is not set",
    /// a fragment comment naming the option, trailing whitespace): Kata's build-kernel.sh fails on it.
    /// </summary>
    WrittenOtherwise,
}

/// <summary>A requested option that did not make it into the final .config, with the explanation.</summary>
public sealed record DroppedOption(
    RequestedOption Request,
    string? FinalValue,
    DropReason Reason,
    string Summary,
    IReadOnlyList<string> Details,
    string? AllowedBecause)
{
    /// <summary>Whether the allow-list lets this option drop (with a warning).</summary>
    public bool Allowed => AllowedBecause is not null;

    /// <summary>The summary line followed by indented detail lines.</summary>
    public string Explanation =>
        string.Join(Environment.NewLine, new[] { Summary }.Concat(Details.Select(d => "    " + d)));
}

/// <summary>The outcome of checking every requested option against the final .config.</summary>
public sealed class ConfigVerification
{
    public ConfigVerification(IReadOnlyList<RequestedOption> checkedOptions, IReadOnlyList<DroppedOption> dropped,
        IReadOnlyList<string> warnings, string? configPath, string? allowListPath)
    {
        Checked = checkedOptions;
        Dropped = dropped;
        Warnings = warnings;
        ConfigPath = configPath;
        AllowListPath = allowListPath;
    }

    public IReadOnlyList<RequestedOption> Checked { get; }
    public IReadOnlyList<DroppedOption> Dropped { get; }
    /// <summary>Problems that do not fail the build, e.g. an empty line in a Kata whitelist that allows every drop.</summary>
    public IReadOnlyList<string> Warnings { get; }
    public string? ConfigPath { get; }
    public string? AllowListPath { get; }

    public IEnumerable<DroppedOption> Failures => Dropped.Where(d => !d.Allowed);
    public IEnumerable<DroppedOption> AllowedDrops => Dropped.Where(d => d.Allowed);
    public bool Succeeded => !Failures.Any();

    /// <summary>Warns about allowed drops and other findings, and says how many options hold.</summary>
    public void Report(IKilnLog log)
    {
        foreach (var warning in Warnings) log.Warning(warning);
        foreach (var drop in AllowedDrops)
            log.Warning($"{drop.Explanation}{Environment.NewLine}    allowed to drop: {drop.AllowedBecause}");
        var failures = Failures.Count();
        log.Info($"Config verification: {Checked.Count - Dropped.Count} of {Checked.Count} requested options hold" +
                 (Dropped.Count > failures ? $", {Dropped.Count - failures} allowed to drop" : "") +
                 (failures > 0 ? $", {failures} dropped" : "") + ".");
    }

    /// <summary>Fails with exit code 1 (the kernel failed) and the full explanation unless every drop is allowed.</summary>
    public void ThrowIfFailed()
    {
        if (Succeeded) return;
        throw KilnException.KernelFailed(Describe());
    }

    /// <summary>The full explanation of the options that were dropped and are not allowed to.</summary>
    public string Describe()
    {
        var failures = Failures.ToList();
        var text = new StringBuilder();
        text.Append($"{failures.Count} of {Checked.Count} requested config options are not in the final .config");
        text.AppendLine(ConfigPath is null ? ":" : $" ({ConfigPath}):");
        foreach (var failure in failures) text.AppendLine(failure.Explanation);
        text.Append("Fix the fragments, or let an option drop by listing it in configs/allow-dropped.conf as 'CONFIG_NAME  # reason'")
            .Append(AllowListPath is { } lists && lists.Contains(AllowList.KataWhitelist) ? " (or as a bare CONFIG_NAME line in Kata's whitelist.conf)." : ".");
        return text.ToString();
    }
}
