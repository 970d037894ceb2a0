using Kiln.Kernel;
using System.Text.Json.Nodes;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Packaging;
using Kiln.Tests.Config;

namespace Kiln.Tests.Packaging;

[TestFixture]
public sealed class AciManifestTests
{
    private static readonly Dictionary<string, string> Values = new()
    {
        ["VERSION"] = "6.1.192-1",
        ["KERNEL_RELEASE"] = "6.1.192-1",
        ["ARCH"] = "amd64",
        ["IDENTITY"] = new string('a', 64),
        ["SOURCE"] = "debian:linux-source-6.1 6.1.192",
        ["KERNEL_SHA256"] = new string('b', 64),
    };

    private static string ShippedTemplate => File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "stage1", "manifest.json.in"));

    private static string Valid() => AciManifest.Render(ShippedTemplate, Values, "manifest.json.in");

    /// <summary>The valid rendered manifest with one change applied.</summary>
    private static IReadOnlyList<string> ErrorsAfter(Action<JsonObject> change)
    {
        var manifest = JsonNode.Parse(Valid())!.AsObject();
        change(manifest);
        return AciManifest.Validate(manifest.ToJsonString());
    }

    private static JsonObject Label(JsonObject manifest, string name) =>
        manifest["labels"]!.AsArray().Select(l => l!.AsObject()).Single(l => l["name"]!.GetValue<string>() == name);

    [Test]
    public void Shipped_template_renders_a_valid_stage1_manifest()
    {
        var manifest = JsonNode.Parse(Valid())!;
        Assert.That(AciManifest.Validate(Valid()), Is.Empty);
        Assert.That(manifest["acKind"]!.GetValue<string>(), Is.EqualTo("ImageManifest"));
        Assert.That(manifest["acVersion"]!.GetValue<string>(), Is.EqualTo("0.8.9"));
        var labels = manifest["labels"]!.AsArray().ToDictionary(l => l!["name"]!.GetValue<string>(), l => l!["value"]!.GetValue<string>());
        Assert.That(labels, Is.EquivalentTo(new Dictionary<string, string>
            { ["version"] = "6.1.192-1", ["kernelversion"] = "6.1.192-1", ["arch"] = "amd64", ["os"] = "linux" }));
        var annotations = manifest["annotations"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()).ToList();
        Assert.That(annotations, Is.SupersetOf(new[]
        {
            "coreos.com/rkt/stage1/run", "coreos.com/rkt/stage1/enter", "coreos.com/rkt/stage1/gc", "coreos.com/rkt/stage1/stop",
            "coreos.com/rkt/stage1/interface-version",
        }));
    }

    [Test]
    public void Values_are_json_escaped()
    {
        var values = new Dictionary<string, string>(Values) { ["SOURCE"] = "path \"with\" quotes\\" };
        var manifest = JsonNode.Parse(AciManifest.Render(ShippedTemplate, values, "manifest.json.in"))!;
        var source = manifest["annotations"]!.AsArray().Single(a => a!["name"]!.GetValue<string>() == "kiln.dev/kernel/source")!;
        Assert.That(source["value"]!.GetValue<string>(), Is.EqualTo("path \"with\" quotes\\"));
    }

    [Test]
    public void An_unknown_placeholder_is_named_with_its_line()
    {
        var template = ShippedTemplate.Replace("@ARCH@", "@ARCHITECTURE@");
        var e = Assert.Throws<KilnException>(() => AciManifest.Render(template, Values, "stage1/manifest.json.in"))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("stage1/manifest.json.in line 8: unknown placeholder @ARCHITECTURE@"));
    }

    [Test]
    public void A_template_error_names_the_template_and_the_field()
    {
        var template = ShippedTemplate.Replace("\"kiln.dev/stage1-kvm\"", "\"Kiln.dev/Stage1\"");
        var e = Assert.Throws<KilnException>(() => AciManifest.Render(template, Values, "stage1/manifest.json.in"))!;
        Assert.That(e.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("stage1/manifest.json.in does not render a valid ACI manifest"));
        Assert.That(e.Message, Does.Contain("name: \"Kiln.dev/Stage1\" is not an AC identifier"));
    }

    [Test]
    public void Invalid_json_is_reported()
    {
        Assert.That(AciManifest.Validate("{ \"acKind\": "), Has.One.StartsWith("not valid JSON"));
        Assert.That(AciManifest.Validate("[]"), Is.EqualTo(new[] { "the manifest must be a JSON object" }));
    }

    [TestCase("acKind", "acKind: required")]
    [TestCase("acVersion", "acVersion: required")]
    [TestCase("name", "name: required")]
    public void Required_fields(string field, string expected) =>
        Assert.That(ErrorsAfter(m => m.Remove(field)), Does.Contain(expected));

    [Test]
    public void AcKind_must_be_ImageManifest() =>
        Assert.That(ErrorsAfter(m => m["acKind"] = "PodManifest"), Does.Contain("acKind: must be \"ImageManifest\", not \"PodManifest\""));

    [TestCase("0.8")]
    [TestCase("v0.8.9")]
    [TestCase("0.08.9")]
    public void AcVersion_must_be_semver(string version) =>
        Assert.That(ErrorsAfter(m => m["acVersion"] = version), Has.One.StartsWith("acVersion: \"" + version + "\" is not a semantic version"));

    [Test]
    public void Version_label_must_be_semver() =>
        Assert.That(ErrorsAfter(m => Label(m, "version")["value"] = "6.1"), Does.Contain("labels.version: \"6.1\" is not a semantic version"));

    [Test]
    public void Label_names_must_be_identifiers_and_unique()
    {
        var errors = ErrorsAfter(m =>
        {
            m["labels"]!.AsArray().Add(new JsonObject { ["name"] = "Bad Name", ["value"] = "x" });
            m["labels"]!.AsArray().Add(new JsonObject { ["name"] = "os", ["value"] = "linux" });
        });
        Assert.That(errors, Has.One.StartsWith("labels[4].name: \"Bad Name\" is not an AC identifier"));
        Assert.That(errors, Does.Contain("labels[5].name: \"os\" appears more than once in labels"));
    }

    [Test]
    public void A_label_needs_name_and_value() =>
        Assert.That(ErrorsAfter(m => m["labels"]!.AsArray().Add(new JsonObject { ["name"] = "extra" })), Does.Contain("labels[4].value: required"));

    [Test]
    public void Stage1_labels_are_required() =>
        Assert.That(ErrorsAfter(m => m["labels"]!.AsArray().Remove(Label(m, "kernelversion"))),
            Does.Contain("labels: a stage1 needs the \"kernelversion\" label"));

    [Test]
    public void Os_and_arch_must_be_an_appc_pair()
    {
        Assert.That(ErrorsAfter(m => Label(m, "arch")["value"] = "x86_64"), Has.One.StartsWith("labels.arch: \"x86_64\" is not an appc arch for linux"));
        Assert.That(ErrorsAfter(m => Label(m, "os")["value"] = "plan9"), Has.One.StartsWith("labels.os: \"plan9\" is not an appc os"));
    }

    [Test]
    public void The_stage1_run_entrypoint_is_required() =>
        Assert.That(ErrorsAfter(m => m["annotations"]!.AsArray().RemoveAt(0)), Has.One.StartsWith("annotations: a stage1 needs \"coreos.com/rkt/stage1/run\""));

    [Test]
    public void Annotation_names_must_be_identifiers() =>
        Assert.That(ErrorsAfter(m => m["annotations"]!.AsArray().Add(new JsonObject { ["name"] = "coreos.com//x", ["value"] = "" })),
            Has.One.StartsWith("annotations[12].name: \"coreos.com//x\" is not an AC identifier"));

    [Test]
    public void A_misspelt_field_is_reported() =>
        Assert.That(ErrorsAfter(m => m["lables"] = new JsonArray()), Has.One.StartsWith("lables: not an image manifest field"));

    [Test]
    public void Dependencies_are_checked()
    {
        var errors = ErrorsAfter(m => m["dependencies"] = new JsonArray(
            new JsonObject { ["imageName"] = "coreos.com/rkt/stage1-coreos", ["imageID"] = "sha256-abc", ["size"] = -1 },
            new JsonObject { ["labels"] = new JsonArray(new JsonObject { ["name"] = "arch", ["value"] = "amd64" }) }));
        Assert.That(errors, Does.Contain("dependencies[0].imageID: \"sha256-abc\" is not an image ID (sha512-<hex>)"));
        Assert.That(errors, Does.Contain("dependencies[0].size: must be a non-negative integer"));
        Assert.That(errors, Does.Contain("dependencies[1].imageName: required"));
        Assert.That(errors, Does.Contain("dependencies[1].labels.arch: needs an \"os\" label too"));
    }

    [TestCase("x86_64", "amd64")]
    [TestCase("arm64", "aarch64")]
    [TestCase("s390x", "s390x")]
    [TestCase("ppc64le", "ppc64le")]
    public void Kiln_arches_map_to_appc(string arch, string appc) => Assert.That(Kiln.Kernel.Arch.Parse(arch).AciArch, Is.EqualTo(appc));
}
