using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Xml;
using System.Xml.Linq;
using Kiln.Kernel.IO;
namespace Kiln.Kernel.Boot;

/// <summary>
/// Writes a boot test's results.json and JUnit XML (the format CI systems read). Messages quote guest output, which
/// is untrusted, so every string is made <see cref="Printable"/> on its way into either file.
/// </summary>
public static class BootResultWriter
{
    public const string SuiteName = "kiln.boot";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new PrintableStringConverter() },
    };

    public static void WriteJson(BootTestResult result, string path)
    {
        var document = new
        {
            passed = result.Passed,
            exitCode = result.ExitCode,
            arch = result.Spec.Arch.Name,
            machine = result.Machine.Profile.Name,
            smp = result.Machine.Smp,
            memoryMiB = result.Machine.Memory.MiB,
            kernel = result.Spec.KernelPath,
            expectedRelease = result.Spec.ExpectedRelease,
            release = result.Release,
            accelerator = result.Qemu.Accelerator.ToString().ToLowerInvariant(),
            timedOut = result.Qemu.TimedOut,
            qemuExitCode = result.Qemu.ExitCode,
            wallSeconds = Math.Round(result.Qemu.Duration.TotalSeconds, 3),
            secondsToInit = result.Log.SecondsToInit,
            firstKernelError = result.Log.FirstError,
            qemuCommandLine = result.Qemu.CommandLine,
            serialLog = result.SerialLogPath,
            reportLog = result.ReportPath,
            compiledNotExercised = result.NotExercised,
            checks = result.Checks.Select(c => new
            {
                name = c.Name,
                status = StatusName(c.Status),
                passed = c.Passed,
                message = c.Message,
                durationSeconds = Math.Round(c.Duration.TotalSeconds, 3),
                details = c.Details,
            }),
        };
        AtomicFile.Write(path, (Stream stream) => JsonSerializer.Serialize(stream, document, JsonOptions));
    }

    public static void WriteJUnit(BootTestResult result, string path)
    {
        var className = $"{SuiteName}.{result.Spec.Arch.Name}";
        var failures = result.Checks.Count(c => c.Failed);
        var skipped = result.Checks.Count(c => c.Status is CheckStatus.Skipped or CheckStatus.NotApplicable);
        var suite = new XElement("testsuite",
            new XAttribute("name", SuiteName),
            new XAttribute("tests", result.Checks.Count),
            new XAttribute("failures", failures),
            new XAttribute("errors", 0),
            new XAttribute("skipped", skipped),
            new XAttribute("time", Seconds(result.Qemu.Duration)),
            new XElement("properties",
                Property("kernel", result.Spec.KernelPath),
                Property("release", result.Release ?? ""),
                Property("accelerator", result.Qemu.Accelerator.ToString().ToLowerInvariant()),
                Property("machine", result.Machine.Profile.Name),
                Property("smp", result.Machine.Smp.ToString(CultureInfo.InvariantCulture)),
                Property("memory_mib", result.Machine.Memory.MiB.ToString(CultureInfo.InvariantCulture)),
                Property("compiled_not_exercised", string.Join(' ', result.NotExercised))),
            result.Checks.Select(c => new XElement("testcase",
                new XAttribute("classname", Printable(JUnitClass(c.Name) ?? className)),
                new XAttribute("name", Printable(JUnitClass(c.Name) is { } cls ? c.Name[(c.Name.IndexOf('.', cls.Length) + 1)..] : c.Name)),
                new XAttribute("time", Seconds(c.Duration)),
                c.Status switch
                {
                    CheckStatus.Pass => null,
                    CheckStatus.Fail => new XElement("failure",
                        new XAttribute("message", Printable(c.Message)),
                        new XAttribute("type", Printable(c.Name)),
                        Printable(c.Details ?? c.Message)),
                    _ => new XElement("skipped", new XAttribute("message", Printable($"{StatusName(c.Status)}: {c.Message}"))),
                })));
        var document = new XDocument(new XDeclaration("1.0", "utf-8", null),
            new XElement("testsuites",
                new XAttribute("name", SuiteName),
                new XAttribute("tests", result.Checks.Count),
                new XAttribute("failures", failures),
                suite));
        AtomicFile.Write(path, (Stream stream) =>
        {
            using var writer = XmlWriter.Create(stream, new XmlWriterSettings { Indent = true });
            document.Save(writer);
        });
    }

    /// <summary>
    /// A KUnit case (kunit:SUITE.CASE) or a selftest (kselftest:TARGET.TEST) is a test case of class kunit.SUITE or
    /// kselftest.TARGET, named CASE or TEST; other checks have none.
    /// </summary>
    private static string? JUnitClass(string check) =>
        new[] { KUnit.KUnitRequest.CheckPrefix, Kselftest.Kselftests.CheckPrefix }.FirstOrDefault(p => check.StartsWith(p, StringComparison.Ordinal)) is { } prefix
        && check.IndexOf('.', prefix.Length) is var dot and > 0
            ? prefix[..^1] + "." + check[prefix.Length..dot] : null;

    /// <summary>How results.json, JUnit and the console name a status.</summary>
    public static string StatusName(CheckStatus status) => status switch
    {
        CheckStatus.Pass => "pass",
        CheckStatus.Fail => "fail",
        CheckStatus.Skipped => "skipped",
        _ => "not applicable",
    };

    private static XElement Property(string name, string value) =>
        new("property", new XAttribute("name", name), new XAttribute("value", Printable(value)));

    private static string Seconds(TimeSpan duration) => duration.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>
    /// <paramref name="text"/> without what XML 1.0 cannot hold and a JSON writer refuses, or a reader chokes on:
    /// control characters other than tab and newline (serial logs carry escape sequences and NULs), unpaired
    /// surrogates and the noncharacters U+FFFE and U+FFFF. Paired surrogates (emoji) stay.
    /// </summary>
    internal static string Printable(string text)
    {
        static bool Kept(char c) => c is '\t' or '\n' || (!char.IsControl(c) && !char.IsSurrogate(c) && c is not ('\uFFFE' or '\uFFFF'));
        if (text.All(Kept)) return text;
        var kept = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                kept.Append(text[i]).Append(text[++i]);
            else if (Kept(text[i]))
                kept.Append(text[i]);
        }
        return kept.ToString();
    }

    private sealed class PrintableStringConverter : JsonConverter<string>
    {
        public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetString();

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(Printable(value));
    }
}
