using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Packaging;

/// <summary>
/// The stage1 ACI manifest: rendered from stage1/manifest.json.in and checked against the appc
/// image manifest rules (spec 0.8.x) plus what rkt needs of a stage1, before anything is written.
/// </summary>
public static partial class AciManifest
{
    public const string StageRunAnnotation = "coreos.com/rkt/stage1/run";

    /// <summary>The labels a Kiln stage1 carries so users can tell which kernel is inside.</summary>
    public static readonly IReadOnlyList<string> RequiredLabels = new[] { "version", "kernelversion", "arch", "os" };

    private static readonly HashSet<string> KnownFields = new(StringComparer.Ordinal)
        { "acKind", "acVersion", "name", "labels", "app", "annotations", "dependencies", "pathWhitelist" };

    /// <summary>appc's valid os/arch pairs.</summary>
    private static readonly Dictionary<string, string[]> OsArch = new(StringComparer.Ordinal)
    {
        ["linux"] = new[] { "amd64", "i386", "aarch64", "aarch64_be", "armv6l", "armv7l", "armv7b", "ppc64", "ppc64le", "s390x" },
        ["freebsd"] = new[] { "amd64", "i386", "arm" },
        ["darwin"] = new[] { "x86_64", "i386" },
    };

    /// <summary>Fills @NAME@ placeholders (values JSON-escaped), then parses and validates the result.</summary>
    /// <param name="origin">The template's name for messages (stage1/manifest.json.in).</param>
    public static string Render(string template, IReadOnlyDictionary<string, string> values, string origin)
    {
        var rendered = Placeholder().Replace(template, m =>
            values.TryGetValue(m.Groups[1].Value, out var value)
                ? JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString()
                : throw KilnException.BadInput(
                    $"{origin} line {LineOf(template, m.Index)}: unknown placeholder {m.Value}. Known: {string.Join(", ", values.Keys.Select(k => $"@{k}@"))}."));
        var errors = Validate(rendered);
        if (errors.Count > 0)
            throw KilnException.BadInput($"{origin} does not render a valid ACI manifest:\n  " + string.Join("\n  ", errors));
        return rendered;
    }

    /// <summary>Every rule the manifest breaks, each naming its field ("labels[2].name: ..."); empty when valid.</summary>
    public static IReadOnlyList<string> Validate(string json)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            return new[] { $"not valid JSON: {e.Message}" };
        }
        if (root is not JsonObject manifest) return new[] { "the manifest must be a JSON object" };

        var errors = new List<string>();
        foreach (var (key, _) in manifest)
            if (!KnownFields.Contains(key)) errors.Add($"{key}: not an image manifest field (known: {string.Join(", ", KnownFields)})");

        if (RequiredString(manifest, "acKind", errors) is { } kind && kind != "ImageManifest")
            errors.Add($"acKind: must be \"ImageManifest\", not \"{kind}\"");
        if (RequiredString(manifest, "acVersion", errors) is { } acVersion && !IsSemver(acVersion))
            errors.Add($"acVersion: \"{acVersion}\" is not a semantic version (e.g. 0.8.9)");
        if (RequiredString(manifest, "name", errors) is { } name)
            CheckIdentifier("name", name, errors);

        var labels = NameValueList(manifest, "labels", errors);
        foreach (var required in RequiredLabels)
            if (!labels.ContainsKey(required)) errors.Add($"labels: a stage1 needs the \"{required}\" label");
        if (labels.TryGetValue("version", out var version) && !IsSemver(version))
            errors.Add($"labels.version: \"{version}\" is not a semantic version");
        CheckOsArch("labels", labels, errors);

        var annotations = NameValueList(manifest, "annotations", errors);
        if (!annotations.TryGetValue(StageRunAnnotation, out var run) || run.Length == 0)
            errors.Add($"annotations: a stage1 needs \"{StageRunAnnotation}\" (the program rkt runs)");

        if (manifest["dependencies"] is { } deps)
            CheckDependencies(deps, errors);
        if (manifest["app"] is { } app && app is not JsonObject)
            errors.Add("app: must be an object");
        return errors;
    }

    private static string? RequiredString(JsonObject obj, string field, List<string> errors, string path = "")
    {
        var node = obj[field];
        if (node is null)
        {
            errors.Add($"{path}{field}: required");
            return null;
        }
        if (node is JsonValue v && v.TryGetValue<string>(out var s)) return s;
        errors.Add($"{path}{field}: must be a string");
        return null;
    }

    /// <summary>Reads a [{name, value}] list, reporting bad entries and duplicate names.</summary>
    private static Dictionary<string, string> NameValueList(JsonObject obj, string field, List<string> errors, string prefix = "")
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var node = obj[field];
        if (node is null) return result;
        if (node is not JsonArray list)
        {
            errors.Add($"{prefix}{field}: must be an array of {{\"name\", \"value\"}} objects");
            return result;
        }
        for (var i = 0; i < list.Count; i++)
        {
            var path = $"{prefix}{field}[{i}]";
            if (list[i] is not JsonObject item)
            {
                errors.Add($"{path}: must be an object with \"name\" and \"value\"");
                continue;
            }
            var name = RequiredString(item, "name", errors, path + ".");
            var value = RequiredString(item, "value", errors, path + ".");
            if (name is null || value is null) continue;
            CheckIdentifier(path + ".name", name, errors);
            if (!result.TryAdd(name, value)) errors.Add($"{path}.name: \"{name}\" appears more than once in {prefix}{field}");
        }
        return result;
    }

    private static void CheckOsArch(string path, Dictionary<string, string> labels, List<string> errors)
    {
        labels.TryGetValue("os", out var os);
        labels.TryGetValue("arch", out var arch);
        if (os is null)
        {
            if (arch is not null) errors.Add($"{path}.arch: needs an \"os\" label too");
            return;
        }
        if (!OsArch.TryGetValue(os, out var arches))
            errors.Add($"{path}.os: \"{os}\" is not an appc os (known: {string.Join(", ", OsArch.Keys)})");
        else if (arch is not null && !arches.Contains(arch))
            errors.Add($"{path}.arch: \"{arch}\" is not an appc arch for {os} (known: {string.Join(", ", arches)})");
    }

    private static void CheckDependencies(JsonNode deps, List<string> errors)
    {
        if (deps is not JsonArray list)
        {
            errors.Add("dependencies: must be an array");
            return;
        }
        for (var i = 0; i < list.Count; i++)
        {
            var path = $"dependencies[{i}]";
            if (list[i] is not JsonObject dep)
            {
                errors.Add($"{path}: must be an object");
                continue;
            }
            if (RequiredString(dep, "imageName", errors, path + ".") is { } imageName)
                CheckIdentifier(path + ".imageName", imageName, errors);
            if (dep["imageID"] is not null && RequiredString(dep, "imageID", errors, path + ".") is { } id && !ImageIdPattern().IsMatch(id))
                errors.Add($"{path}.imageID: \"{id}\" is not an image ID (sha512-<hex>)");
            CheckOsArch(path + ".labels", NameValueList(dep, "labels", errors, path + "."), errors);
            if (dep["size"] is { } size && !(size is JsonValue sv && sv.TryGetValue<long>(out var n) && n >= 0))
                errors.Add($"{path}.size: must be a non-negative integer");
        }
    }

    private static void CheckIdentifier(string path, string value, List<string> errors)
    {
        if (!AcIdentifierPattern().IsMatch(value))
            errors.Add($"{path}: \"{value}\" is not an AC identifier (lower-case letters and digits, separated by single - . _ ~ /)");
    }

    public static bool IsSemver(string value) => SemverPattern().IsMatch(value);

    private static int LineOf(string text, int index) => text.AsSpan(0, index).Count('\n') + 1;

    [GeneratedRegex(@"@([A-Z0-9_]+)@")]
    private static partial Regex Placeholder();

    /// <summary>appc's ACIdentifier.</summary>
    [GeneratedRegex(@"^[a-z0-9]+([-._~/][a-z0-9]+)*$")]
    private static partial Regex AcIdentifierPattern();

    [GeneratedRegex(@"^sha512-[0-9a-f]{1,128}$")]
    private static partial Regex ImageIdPattern();

    /// <summary>The regular expression semver.org gives for SemVer 2.0.0.</summary>
    [GeneratedRegex(@"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")]
    private static partial Regex SemverPattern();
}
