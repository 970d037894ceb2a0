using System.Security.Cryptography;
using System.Text;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Build.Containers;

/// <summary>
/// What the builder image is made from: a Debian suite from a mirror with a package list. Its tag is a hash of
/// the three, so an edit to the list (not to its comments or order) names a new image.
/// </summary>
public sealed record BuilderImageRecipe(string Suite, string Mirror, IReadOnlyList<string> Packages)
{
    public const string Repository = "kiln-builder";
    public const string DefaultSuite = "bookworm";
    public const string DefaultMirror = "http://deb.debian.org/debian";
    /// <summary>The package list, relative to the repository root.</summary>
    public const string PackagesFile = "containers/builder/packages";

    public static BuilderImageRecipe Load(string packagesFile, string suite = DefaultSuite, string mirror = DefaultMirror)
    {
        if (!File.Exists(packagesFile))
            throw KilnException.BadInput($"The builder image's package list {packagesFile} is missing.");
        var packages = ParsePackages(File.ReadAllText(packagesFile));
        if (packages.Count == 0)
            throw KilnException.BadInput($"{packagesFile} lists no packages.");
        return new BuilderImageRecipe(suite, mirror.TrimEnd('/'), packages);
    }

    /// <summary>One package a line; '#' starts a comment; blank lines, spacing, order and repeats do not count.</summary>
    public static IReadOnlyList<string> ParsePackages(string text) =>
        text.Split('\n')
            .Select(line => (line.IndexOf('#') is var hash and >= 0 ? line[..hash] : line).Trim())
            .Where(line => line.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .OrderBy(p => p, StringComparer.Ordinal)
            .ToList();

    public string Hash => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
        $"suite {Suite}\nmirror {Mirror.TrimEnd('/')}\npackages {string.Join(' ', Packages)}\n")));

    /// <summary>"kiln-builder:3f2a…": 16 hex digits are plenty to tell package lists apart.</summary>
    public string Reference => $"{Repository}:{Hash[..16]}";
}
