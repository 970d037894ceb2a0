using NUnit.Framework;
using System.Runtime.CompilerServices;
using System.Text;

namespace Kiln.Tests.Patches;

/// <summary>Small source trees and format-patch files in a temp directory, deleted after each test.</summary>
internal sealed class PatchFixtures : IDisposable
{
    public const string MainC = "int main(void)\n{\n\tbanner();\n\treturn 0;\n}\n";

    public PatchFixtures()
    {
        Root = Path.Combine(Path.GetTempPath(), "kiln-patches-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Root);
        SeriesDir = Path.Combine(Root, "patches", "6.1.x");
        WorkRoot = Path.Combine(Root, "work");
        Pristine = Path.Combine(Root, "linux-6.1.192");
        Directory.CreateDirectory(Path.Combine(Pristine, "init"));
        File.WriteAllText(Path.Combine(Pristine, "init", "main.c"), MainC);
        File.WriteAllText(Path.Combine(Pristine, "Makefile"), "VERSION = 6\nPATCHLEVEL = 1\n");
    }

    public string Root { get; }
    public string SeriesDir { get; }
    public string WorkRoot { get; }
    public string Pristine { get; }

    /// <summary>A diff of init/main.c that adds a line after banner(); applies to <see cref="MainC"/>.</summary>
    public static string AddLineDiff(string added = "\tpr_notice(\"Kiln\\n\");") =>
        "diff --git a/init/main.c b/init/main.c\n" +
        "index 1111111..2222222 100644\n" +
        "--- a/init/main.c\n" +
        "+++ b/init/main.c\n" +
        "@@ -1,5 +1,6 @@\n" +
        " int main(void)\n" +
        " {\n" +
        " \tbanner();\n" +
        "+" + added + "\n" +
        " \treturn 0;\n" +
        " }\n";

    /// <summary>A diff whose context does not match <see cref="MainC"/>, so its only hunk fails.</summary>
    public static string ConflictingDiff() =>
        "diff --git a/init/main.c b/init/main.c\n" +
        "--- a/init/main.c\n" +
        "+++ b/init/main.c\n" +
        "@@ -1,3 +1,3 @@\n" +
        " int main(void)\n" +
        "-{ /* not what the tree has */\n" +
        "+{ /* nor what it would have after this patch */\n" +
        " \tbanner();\n";

    /// <summary>Text in git format-patch form; pass null to leave a header out.</summary>
    public static string FormatPatch(string diff, string? subject = "[PATCH] init: say hello", string? from = "Ada Dev <ada@example.org>",
        string body = "Explain why.", string trailers = "Signed-off-by: Ada Dev <ada@example.org>")
    {
        var text = new StringBuilder("From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n");
        if (from is not null) text.Append("From: ").Append(from).Append('\n');
        text.Append("Date: Mon, 1 Jan 2024 00:00:00 +0000\n");
        if (subject is not null) text.Append("Subject: ").Append(subject).Append('\n');
        text.Append('\n').Append(body).Append("\n\n");
        if (trailers.Length > 0) text.Append(trailers).Append('\n');
        text.Append("---\n init/main.c | 1 +\n 1 file changed, 1 insertion(+)\n\n");
        text.Append(diff);
        text.Append("-- \n2.39.5\n\n");
        return text.ToString();
    }

    public string Write(string fileName, string content)
    {
        Directory.CreateDirectory(SeriesDir);
        var path = Path.Combine(SeriesDir, fileName);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>The repository checkout these tests belong to (holds Kiln.slnx).</summary>
    public static string RepoRoot([CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { TestContext.CurrentContext.TestDirectory, Path.GetDirectoryName(sourceFile) })
        {
            for (var dir = start; dir is not null; dir = Path.GetDirectoryName(dir))
                if (File.Exists(Path.Combine(dir, "Kiln.slnx"))) return dir;
        }
        throw new InvalidOperationException("Cannot find the repository root (Kiln.slnx) above the test directory.");
    }

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}
