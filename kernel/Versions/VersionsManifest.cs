using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Kiln.Kernel.Versions;

/// <summary>Where a series' source may come from.</summary>
public abstract record SourceSpec
{
    public sealed record KernelOrg : SourceSpec
    {
        public override string ToString() => "kernel.org";
    }

    public sealed record DebianPackage(string Package) : SourceSpec
    {
        public override string ToString() => "debian:" + Package;
    }
}

/// <summary>One kernel series and the release it is pinned to.</summary>
public sealed record SeriesPin(string Series, KernelVersion Version, IReadOnlyList<SourceSpec> Sources, int Line);

/// <summary>The kernel part of versions.yaml (Kata's assets.kernel layout).</summary>
public sealed class VersionsManifest
{
    public VersionsManifest(string path, string description, string urlTemplate, KernelVersion defaultVersion, IReadOnlyDictionary<string, SeriesPin> series)
    {
        Path = path;
        Description = description;
        UrlTemplate = urlTemplate;
        DefaultVersion = defaultVersion;
        Series = series;
    }

    public string Path { get; }
    public string Description { get; }
    /// <summary>kernel.org directory URL; {major} is replaced by the major version.</summary>
    public string UrlTemplate { get; }
    public KernelVersion DefaultVersion { get; }
    public IReadOnlyDictionary<string, SeriesPin> Series { get; }

    public string UrlFor(KernelVersion version) => UrlTemplate.Replace("{major}", version.Major.ToString());

    /// <summary>
    /// Resolves --kernel: nothing means the default version; "6.1" the series pin; "6.1.150" that exact
    /// release of a pinned series. Anything else is an error listing the series there are.
    /// </summary>
    public (SeriesPin Pin, KernelVersion Version) Resolve(string? requested)
    {
        var text = string.IsNullOrWhiteSpace(requested) ? DefaultVersion.ToString() : requested.Trim().TrimStart('v');
        if (!KernelVersion.TryParse(text, out var version))
            throw KilnException.BadInput($"--kernel={requested}: not a kernel version. Give a series ({Known}) or a release such as {Series.Values.First().Version}.");
        if (!Series.TryGetValue(version.SeriesName, out var pin))
            throw KilnException.BadInput($"--kernel={text}: series {version.SeriesName} is not pinned in {Path}. Pinned series: {Known}. Add it under assets.kernel.series to build it.");
        return version.Sublevel is null ? (pin, pin.Version) : (pin, version);
    }

    private string Known => string.Join(", ", Series.Keys);

    /// <summary>The line of the last YAML event the parser could read: where a broken document stops making sense.</summary>
    private static int LastParsedLine(string path)
    {
        using var reader = new StreamReader(path);
        var parser = new Parser(reader);
        var line = 1;
        try
        {
            while (parser.MoveNext())
                if (parser.Current is { } current) line = (int)current.Start.Line;
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException)
        {
            if (e is YamlException y) line = (int)y.Start.Line;
        }
        return line;
    }

    public static VersionsManifest Load(string path)
    {
        if (!File.Exists(path))
            throw KilnException.BadInput($"{path}: not found. Kiln reads the kernel pins from versions.yaml at the repository root.");
        var yaml = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            yaml.Load(reader);
        }
        catch (YamlException e)
        {
            throw KilnException.BadInput($"{path}:{e.Start.Line}:{e.Start.Column}: not valid YAML: {e.InnerException?.Message ?? e.Message}");
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's loader fails this way (no position) on some unclosed flow collections; its parser knows where.
            throw KilnException.BadInput($"{path}:{LastParsedLine(path)}: not valid YAML: the document ends inside an unclosed [ ] or {{ }} (or a quote) opened here or earlier.");
        }

        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root)
            throw KilnException.BadInput($"{path}: empty; expected the mapping assets.kernel.");
        var reader2 = new ManifestReader(path);
        var kernel = reader2.Map(reader2.Map(root, "assets"), "kernel", "assets");
        var description = reader2.Scalar(kernel, "description", "assets.kernel", required: false) ?? "";
        var url = reader2.Scalar(kernel, "url", "assets.kernel")!;
        // The URL is fetched over HTTP (as a --mirror is): another scheme would fail in the client, not here.
        if (!Uri.TryCreate(url.Replace("{major}", "6"), UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
            throw reader2.Error(kernel.Children[new YamlScalarNode("url")], $"assets.kernel.url '{url}' is not an absolute http:// or https:// URL.");
        var defaultText = reader2.Scalar(kernel, "version", "assets.kernel")!;
        var defaultVersion = reader2.Version(kernel.Children[new YamlScalarNode("version")], defaultText.TrimStart('v'), "assets.kernel.version");

        var seriesNode = reader2.Map(kernel, "series", "assets.kernel");
        var series = new Dictionary<string, SeriesPin>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in seriesNode.Children)
        {
            if (keyNode is not YamlScalarNode { Value: var key })
                throw reader2.Error(keyNode, "assets.kernel.series: a series key is a name such as \"6.1\", not a list or mapping.");
            var name = key ?? "";
            var where = $"assets.kernel.series.\"{name}\"";
            if (!Regex.IsMatch(name, @"^\d+\.\d+$"))
                throw reader2.Error(keyNode, $"{where}: a series is named major.minor, such as \"6.1\".");
            if (valueNode is not YamlMappingNode pinNode)
                throw reader2.Error(valueNode, $"{where}: expected a mapping with version and sources.");
            var versionText = reader2.Scalar(pinNode, "version", where)!;
            var version = reader2.Version(pinNode.Children[new YamlScalarNode("version")], versionText.TrimStart('v'), where + ".version");
            if (version.SeriesName != name || version.Sublevel is null)
                throw reader2.Error(pinNode.Children[new YamlScalarNode("version")], $"{where}.version '{versionText}' must be a full release of series {name}, such as {name}.1.");
            var sources = reader2.Sources(pinNode, where);
            series[name] = new SeriesPin(name, version, sources, (int)keyNode.Start.Line);
        }

        if (series.Count == 0)
            throw reader2.Error(seriesNode, "assets.kernel.series: no series pinned.");
        if (!series.ContainsKey(defaultVersion.SeriesName))
            throw reader2.Error(kernel.Children[new YamlScalarNode("version")], $"assets.kernel.version {defaultVersion}: its series {defaultVersion.SeriesName} is not under assets.kernel.series.");
        return new VersionsManifest(path, description, url, defaultVersion, series);
    }

    /// <summary>Typed access to the YAML tree with errors that carry file and line.</summary>
    private sealed class ManifestReader
    {
        private readonly string _path;

        public ManifestReader(string path) => _path = path;

        public KilnException Error(YamlNode node, string message) =>
            KilnException.BadInput($"{_path}:{node.Start.Line}: {message}");

        public YamlMappingNode Map(YamlMappingNode parent, string key, string? parentName = null)
        {
            var where = parentName is null ? key : parentName + "." + key;
            if (!parent.Children.TryGetValue(new YamlScalarNode(key), out var node))
                throw Error(parent, $"missing key '{where}'.");
            return node as YamlMappingNode ?? throw Error(node, $"'{where}' must be a mapping.");
        }

        public string? Scalar(YamlMappingNode parent, string key, string parentName, bool required = true)
        {
            if (!parent.Children.TryGetValue(new YamlScalarNode(key), out var node))
                return required ? throw Error(parent, $"missing key '{parentName}.{key}'.") : null;
            if (node is not YamlScalarNode { Value: { Length: > 0 } value })
                throw Error(node, $"'{parentName}.{key}' must be a non-empty string.");
            return value;
        }

        public KernelVersion Version(YamlNode node, string text, string where) =>
            KernelVersion.TryParse(text, out var v) ? v : throw Error(node, $"{where}: '{text}' is not a kernel version (major.minor.sublevel, such as 6.1.192).");

        public IReadOnlyList<SourceSpec> Sources(YamlMappingNode pin, string where)
        {
            if (!pin.Children.TryGetValue(new YamlScalarNode("sources"), out var node))
                throw Error(pin, $"missing key '{where}.sources' (for example [kernel.org]).");
            if (node is not YamlSequenceNode { Children.Count: > 0 } list)
                throw Error(node, $"'{where}.sources' must be a non-empty list, for example [kernel.org, \"debian:linux-source-6.1\"].");
            return list.Children.Select(item => (item as YamlScalarNode)?.Value switch
            {
                "kernel.org" => (SourceSpec)new SourceSpec.KernelOrg(),
                { } s when s.StartsWith("debian:", StringComparison.Ordinal) && s.Length > 7 => new SourceSpec.DebianPackage(s[7..]),
                var s => throw Error(item, $"{where}.sources: unknown source '{s}'. Known: kernel.org, debian:<package>."),
            }).ToList();
        }
    }
}
