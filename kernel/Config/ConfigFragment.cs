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
/// A config fragment: a .config-syntax file of requested options. A first line made only of
/// <c>!arch</c> tags (<c># !arm64 !s390x</c>, Kata's convention) excludes the fragment on those architectures.
/// </summary>
public sealed partial class ConfigFragment
{
    private ConfigFragment(string path, string displayName, IReadOnlyList<string> excludedArches, IReadOnlyList<RequestedOption> options)
    {
        Path = path;
        DisplayName = displayName;
        ExcludedArches = excludedArches;
        Options = options;
    }

    /// <summary>The file merge_config.sh is given.</summary>
    public string Path { get; }
    /// <summary>How messages name the fragment, e.g. <c>common/virtio.conf</c>.</summary>
    public string DisplayName { get; }
    public IReadOnlyList<string> ExcludedArches { get; }
    public IReadOnlyList<RequestedOption> Options { get; }

    public bool AppliesTo(Arch arch) => !ExcludedArches.Contains(arch.Name, StringComparer.OrdinalIgnoreCase);

    [GeneratedRegex(@"^CONFIG_([A-Za-z0-9_]+)=(.*)$")]
    private static partial Regex AssignmentRegex();

    [GeneratedRegex(@"^#\s*CONFIG_([A-Za-z0-9_]+) is not set$")]
    private static partial Regex NotSetRegex();

    [GeneratedRegex(@"^#\s*(![A-Za-z0-9_]+\s*)+$")]
    private static partial Regex ArchTagsRegex();

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
        var excluded = new List<string>();
        var options = new List<RequestedOption>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r', ' ', '\t');
            var location = new SourceLocation(displayName, i + 1);
            if (i == 0 && ArchTagsRegex().IsMatch(line))
            {
                excluded.AddRange(line.TrimStart('#').Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries).Select(t => t[1..]));
                continue;
            }
            if (line.Length == 0) continue;
            if (NotSetRegex().Match(line) is { Success: true } notSet)
            {
                options.Add(new RequestedOption(notSet.Groups[1].Value, "n", location));
                continue;
            }
            if (line.TrimStart().StartsWith('#')) continue;
            if (AssignmentRegex().Match(line) is not { Success: true } assignment)
                throw KilnException.BadInput(
                    $"{location}: cannot parse '{line.Trim()}': expected CONFIG_NAME=value or '# CONFIG_NAME is not set'.");
            var value = assignment.Groups[2].Value;
            if (!ConfigValues.IsValidValue(value))
                throw KilnException.BadInput(
                    $"{location}: invalid value '{value}' for CONFIG_{assignment.Groups[1].Value}: use y, m, n, a number, 0x-hex or a \"quoted string\".");
            options.Add(new RequestedOption(assignment.Groups[1].Value, value, location));
        }
        return new ConfigFragment(path, displayName, excluded, options);
    }

    public override string ToString() => DisplayName;
}
