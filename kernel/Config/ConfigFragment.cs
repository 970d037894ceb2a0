using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Config;

/// <summary>One option a fragment asks for, and where it asked. <see cref="Symbol"/> has no CONFIG_ prefix.</summary>
public sealed record RequestedOption(string Symbol, string Value, SourceLocation Origin)
{
    /// <summary>The request as the fragment wrote it, e.g. <c>CONFIG_PCI=y</c>.</summary>
    public string Display => Value == "n" ? $"{ConfigValues.Prefix}{Symbol}=n" : $"{ConfigValues.Prefix}{Symbol}={Value}";

    public override string ToString() => $"{Display} ({Origin})";
}

/// <summary>
/// A config fragment: a .config-syntax file of requested options, read the way the kernel's merge_config.sh
/// reads it (<c>CONFIG_X=value</c> and exactly <c># CONFIG_X is not set</c>; every other <c>#</c> line is a comment).
/// A <c>!name</c> tag anywhere in it (<c># !arm64 !s390x</c>, Kata's convention, which Kata finds with
/// <c>grep -L</c> over the whole file) leaves it out on that architecture or confidential guest type.
/// </summary>
public sealed partial class ConfigFragment
{
    private readonly string _text;

    private ConfigFragment(string path, string displayName, string text, IReadOnlyList<RequestedOption> options, IReadOnlyList<string> warnings)
    {
        Path = path;
        DisplayName = displayName;
        _text = text;
        Options = options;
        Warnings = warnings;
    }

    /// <summary>The file merge_config.sh is given.</summary>
    public string Path { get; }
    /// <summary>How messages name the fragment, e.g. <c>common/virtio.conf</c>.</summary>
    public string DisplayName { get; }
    public IReadOnlyList<RequestedOption> Options { get; }
    /// <summary>Lines that look like requests but that kconfig and merge_config.sh read otherwise.</summary>
    public IReadOnlyList<string> Warnings { get; }

    public bool AppliesTo(Arch arch) => !IsTagged(arch.KataName);

    /// <summary>Whether the text holds <c>!tag</c> anywhere: Kata's <c>grep -e '!tag' -L</c>, substring match included (<c>!s390</c> finds <c>!s390x</c>).</summary>
    public bool IsTagged(string tag) => _text.Contains("!" + tag, StringComparison.Ordinal);

    [GeneratedRegex(@"^CONFIG_([A-Za-z0-9_]+)=(.*)$")]
    private static partial Regex AssignmentRegex();

    // merge_config.sh's sed: "^# CONFIG_X is not set$", nothing more or less.
    [GeneratedRegex(@"^# CONFIG_([A-Za-z0-9_]+) is not set$")]
    private static partial Regex NotSetRegex();

    [GeneratedRegex(@"^\s*#\s*CONFIG_([A-Za-z0-9_]+)\s+is\s+not\s+set\b")]
    private static partial Regex LooseNotSetRegex();

    public static ConfigFragment Load(string path, string? displayName = null)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw KilnException.BadInput($"Cannot read config fragment {path}: {e.Message}");
        }
        return Parse(text, path, displayName ?? System.IO.Path.GetFileName(path));
    }

    /// <summary>Parses fragment text; a line that is neither an option, a comment nor blank is a BadInput error naming file:line.</summary>
    public static ConfigFragment Parse(string text, string path, string displayName)
    {
        var lines = text.Split('\n');
        var options = new List<RequestedOption>();
        var warnings = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var raw = lines[i];
            var line = raw.TrimEnd('\r', ' ', '\t');
            var location = new SourceLocation(displayName, i + 1);
            if (line.Length == 0) continue;
            if (NotSetRegex().Match(raw) is { Success: true } notSet)
            {
                options.Add(new RequestedOption(notSet.Groups[1].Value, "n", location));
                continue;
            }
            if (line.TrimStart().StartsWith('#'))
            {
                if (LooseNotSetRegex().Match(raw) is { Success: true } loose)
                    warnings.Add($"{location}: '{line.Trim()}' is a comment to kconfig and merge_config.sh, not a request: " +
                                 $"write exactly '# CONFIG_{loose.Groups[1].Value} is not set' (no other spacing, nothing after it).");
                continue;
            }
            if (AssignmentRegex().Match(line) is not { Success: true } assignment)
                throw KilnException.BadInput(
                    $"{location}: cannot parse '{line.Trim()}': expected CONFIG_NAME=value or '# CONFIG_NAME is not set'.");
            var value = assignment.Groups[2].Value;
            if (!ConfigValues.IsValidValue(value))
                throw KilnException.BadInput(
                    $"{location}: invalid value '{value}' for CONFIG_{assignment.Groups[1].Value}: use y, m, n, a number, 0x-hex or a \"quoted string\".");
            if (raw.Length != line.Length)
                warnings.Add($"{location}: CONFIG_{assignment.Groups[1].Value} has trailing whitespace or a CR: merge_config.sh compares whole lines, " +
                             "so it counts the option as not in the final .config.");
            options.Add(new RequestedOption(assignment.Groups[1].Value, value, location));
        }
        return new ConfigFragment(path, displayName, text, options, warnings);
    }

    public override string ToString() => DisplayName;
}
