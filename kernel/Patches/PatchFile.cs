using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Parsing;

namespace Kiln.Kernel.Patches;

/// <summary>A symlink a patch creates: its path in the tree, its target as written, and the patch line of the target.</summary>
public sealed record PatchSymlink(string Path, string Target, int Line);

/// <summary>A value found in a patch file, with the 1-based line it came from (for file:line messages).</summary>
public sealed record PatchLine(string Value, int Line);

/// <summary>
/// One <c>git format-patch</c> file of a series: its identity (number, name, sha256), the mail headers,
/// the trailers Kiln cares about, and the files its diff touches.
/// </summary>
public sealed partial class PatchFile
{
    private PatchFile(string path, byte[] content)
    {
        FullPath = Path.GetFullPath(path);
        FileName = Path.GetFileName(path);
        Sha256 = Convert.ToHexStringLower(SHA256.HashData(content));
        var prefix = NumberPrefix().Match(FileName);
        if (prefix.Success)
        {
            NumberPrefixText = prefix.Groups[1].Value;
            Number = WholeNumber.Parse(NumberPrefixText, 0, MaxNumber)
                     ?? throw KilnException.BadInput($"{FullPath}: the number {NumberPrefixText} is too large for a patch in a series " +
                                                     $"(at most {MaxNumber}; git format-patch names them 0001-, 0002-, ...). Renumber the patch.");
        }
    }

    /// <summary>Four digits, as git format-patch writes them (lint insists on exactly four).</summary>
    public const int MaxNumber = 9999;

    public string FullPath { get; }
    public string FileName { get; }
    /// <summary>The numeric prefix of the file name (0001 → 1), or null when the name has none.</summary>
    public int? Number { get; }
    /// <summary>The prefix as written ("0001"), so lint can insist on four digits.</summary>
    public string? NumberPrefixText { get; }
    /// <summary>Lowercase hex sha256 of the file's bytes; what "the same patch" means for reruns.</summary>
    public string Sha256 { get; }

    /// <summary>Mail headers (From, Date, Subject, ...) with folded lines joined and RFC 2047 words decoded.</summary>
    public IReadOnlyList<(string Name, PatchLine Value)> Headers { get; private set; } = [];
    public PatchLine? From => Header("From");
    public PatchLine? Date => Header("Date");
    /// <summary>The Subject as sent, including a "[PATCH ...]" tag.</summary>
    public PatchLine? Subject => Header("Subject");
    /// <summary>The subject without its leading "[PATCH ...]" tag.</summary>
    public string? Title => Subject is null ? null : SubjectTag().Replace(Subject.Value, "").Trim();

    public IReadOnlyList<PatchLine> SignedOffBy { get; private set; } = [];
    public IReadOnlyList<PatchLine> Origins { get; private set; } = [];
    /// <summary>Commit ids from "(cherry picked from commit &lt;sha&gt;)" lines, as written.</summary>
    public IReadOnlyList<PatchLine> CherryPickedFrom { get; private set; } = [];
    /// <summary>Text the patched kernel prints at boot ("Kiln-Boot-Expect:" trailers); BootTest looks for it.</summary>
    public IReadOnlyList<PatchLine> BootExpectations { get; private set; } = [];

    /// <summary>Paths (relative to the tree root, i.e. after -p1) that the diff creates, changes, renames or deletes.</summary>
    public IReadOnlyList<string> TouchedFiles { get; private set; } = [];
    /// <summary>Symlinks the diff creates or retargets (git mode 120000): the link's path after -p1 and its new target.</summary>
    public IReadOnlyList<PatchSymlink> Symlinks { get; private set; } = [];
    /// <summary>Line where the commit message ends (the "---" separator or the first diff line).</summary>
    public int MessageEndLine { get; private set; }

    /// <summary>A backport by the series rules: the subject says "backport" (also as a [PATCH ... backport] tag).</summary>
    public bool IsBackport => Subject?.Value.Contains("backport", StringComparison.OrdinalIgnoreCase) == true;

    public PatchLine? Header(string name) =>
        Headers.FirstOrDefault(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    public override string ToString() => FileName;

    /// <summary>Reads and parses a patch file; a file without any diff is bad input naming the file.</summary>
    public static PatchFile Load(string path)
    {
        var content = File.ReadAllBytes(path);
        var patch = new PatchFile(path, content);
        patch.Parse(Encoding.UTF8.GetString(content).Split('\n').Select(l => l.TrimEnd('\r')).ToArray());
        if (patch.TouchedFiles.Count == 0)
            throw KilnException.BadInput(
                $"{path}: not a patch (no diff found). Patch series files must be made with 'git format-patch'; remove or rename files that are not patches.");
        return patch;
    }

    private void Parse(string[] lines)
    {
        var i = 0;
        // git format-patch starts with an mbox separator: "From <commit> Mon Sep 17 00:00:00 2001".
        if (lines.Length > 0 && MboxFrom().IsMatch(lines[0])) i++;
        i = ParseHeaders(lines, i);
        var diffStart = ParseMessage(lines, i);
        ParseDiff(lines, diffStart);
    }

    private int ParseHeaders(string[] lines, int i)
    {
        var headers = new List<(string Name, StringBuilder Value, int Line)>();
        for (; i < lines.Length && lines[i].Length > 0; i++)
        {
            if (char.IsWhiteSpace(lines[i][0]) && headers.Count > 0)
            {
                headers[^1].Value.Append(' ').Append(lines[i].Trim());
                continue;
            }
            var m = HeaderLine().Match(lines[i]);
            if (!m.Success) break;
            headers.Add((m.Groups[1].Value, new StringBuilder(m.Groups[2].Value.Trim()), i + 1));
        }
        Headers = headers.Select(h => (h.Name, new PatchLine(DecodeEncodedWords(h.Value.ToString()), h.Line))).ToList();
        return i;
    }

    /// <summary>Collects trailers from the commit message; returns the index where the diff part begins.</summary>
    private int ParseMessage(string[] lines, int i)
    {
        var signedOff = new List<PatchLine>();
        var origins = new List<PatchLine>();
        var cherryPicks = new List<PatchLine>();
        var bootExpect = new List<PatchLine>();
        MessageEndLine = 0;
        for (; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line == "---" || StartsDiff(lines, i))
            {
                MessageEndLine = i + 1;
                break;
            }
            if (Trailer(line, "Signed-off-by") is { } sob) signedOff.Add(new(sob, i + 1));
            else if (Trailer(line, "Origin") is { } origin) origins.Add(new(origin, i + 1));
            else if (Trailer(line, "Kiln-Boot-Expect") is { } expect) bootExpect.Add(new(expect, i + 1));
            else if (CherryPick().Match(line) is { Success: true } cp) cherryPicks.Add(new(cp.Groups[1].Value, i + 1));
        }
        if (MessageEndLine == 0) MessageEndLine = lines.Length;
        SignedOffBy = signedOff;
        Origins = origins;
        CherryPickedFrom = cherryPicks;
        BootExpectations = bootExpect;
        return i;
    }

    private static string? Trailer(string line, string name) =>
        line.Length > name.Length + 1 && line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase)
            ? line[(name.Length + 1)..].Trim()
            : null;

    private static bool StartsDiff(string[] lines, int i) =>
        lines[i].StartsWith("diff --git ", StringComparison.Ordinal) ||
        (lines[i].StartsWith("--- ", StringComparison.Ordinal) && i + 1 < lines.Length && lines[i + 1].StartsWith("+++ ", StringComparison.Ordinal));

    /// <summary>
    /// Walks the diff part. Hunk bodies are skipped by their line counts, so a removed line that happens to
    /// start with "-- " is never mistaken for a file header.
    /// </summary>
    private void ParseDiff(string[] lines, int i)
    {
        var touched = new List<string>();
        var symlinks = new List<PatchSymlink>();
        // The file of the current "diff --git" section, and whether git says it is (or becomes) a symlink.
        string? gitFile = null;
        var gitFileIsLink = false;
        void Touch(string? path)
        {
            if (string.IsNullOrEmpty(path) || touched.Contains(path)) return;
            touched.Add(path);
        }
        // The path of a "--- a/x" / "+++ b/x" line; a plain diff -u appends "\t<timestamp>".
        static string DiffPath(string line) => line[4..].Split('\t')[0].Trim();
        static string? StripOne(string path)
        {
            if (path == "/dev/null") return null; // the side of a created or deleted file
            var slash = path.IndexOf('/');
            return slash < 0 ? path : path[(slash + 1)..];
        }

        while (i < lines.Length)
        {
            var line = lines[i];
            if (GitDiffLine().Match(line) is { Success: true } git)
            {
                Touch(git.Groups[1].Value);
                Touch(git.Groups[2].Value);
                gitFile = git.Groups[2].Value;
                gitFileIsLink = false;
            }
            else if (SymlinkMode().IsMatch(line))
            {
                gitFileIsLink = true;
            }
            else if (GitRenameOrCopy().Match(line) is { Success: true } rename)
            {
                Touch(rename.Groups[1].Value);
            }
            else if (line.StartsWith("--- ", StringComparison.Ordinal) && i + 1 < lines.Length && lines[i + 1].StartsWith("+++ ", StringComparison.Ordinal))
            {
                Touch(StripOne(DiffPath(line)));
                Touch(StripOne(DiffPath(lines[i + 1])));
                i += 2;
                continue;
            }
            else if (HunkHeader().Match(line) is { Success: true } hunk)
            {
                var added = new List<(string Text, int Line)>();
                i = SkipHunk(lines, i + 1, Count(hunk.Groups[1], i), Count(hunk.Groups[2], i), added);
                // A symlink's content is its target: the hunk adds it as its one line.
                if (gitFileIsLink && gitFile is not null && added.Count > 0)
                    symlinks.Add(new PatchSymlink(gitFile, added[0].Text, added[0].Line));
                continue;
            }
            i++;
        }
        TouchedFiles = touched;
        Symlinks = symlinks;
    }

    /// <summary>A hunk's line count; one that cannot be a line count (it overflows) is bad input naming the line.</summary>
    private int Count(Group g, int index) =>
        !g.Success ? 1
        : WholeNumber.Parse(g.Value) ?? throw KilnException.BadInput(
            $"{FullPath}:{index + 1}: the hunk header's line count {g.Value} is out of range; the patch is damaged. Make it again with git format-patch.");

    /// <summary>Skips a hunk's body; its added lines (without the '+', with their 1-based line) go into <paramref name="added"/>.</summary>
    private static int SkipHunk(string[] lines, int i, int oldLines, int newLines, List<(string Text, int Line)> added)
    {
        while (i < lines.Length && (oldLines > 0 || newLines > 0))
        {
            var line = lines[i++];
            if (line.StartsWith('\\')) continue; // "\ No newline at end of file"
            var kind = line.Length == 0 ? ' ' : line[0]; // some mailers strip the space of empty context lines
            if (kind is ' ' or '-') oldLines--;
            if (kind is ' ' or '+') newLines--;
            if (kind == '+') added.Add((line[1..], i));
        }
        // A marker right after the last counted line belongs to the hunk too.
        while (i < lines.Length && lines[i].StartsWith('\\')) i++;
        return i;
    }

    /// <summary>Decodes RFC 2047 words ("=?UTF-8?q?K=C3=B6nig?=") that git uses for non-ASCII names and subjects.</summary>
    private static string DecodeEncodedWords(string value)
    {
        // Whitespace between two adjacent encoded words is not part of the text.
        value = Regex.Replace(value, @"\?=\s+=\?", "?==?");
        return EncodedWord().Replace(value, m =>
        {
            try
            {
                var encoding = Encoding.GetEncoding(m.Groups[1].Value);
                var text = m.Groups[3].Value;
                if (m.Groups[2].Value.Equals("b", StringComparison.OrdinalIgnoreCase))
                    return encoding.GetString(Convert.FromBase64String(text));
                var bytes = new List<byte>();
                for (var k = 0; k < text.Length; k++)
                {
                    if (text[k] == '_') bytes.Add((byte)' ');
                    else if (text[k] == '=' && k + 2 < text.Length) { bytes.Add(Convert.ToByte(text.Substring(k + 1, 2), 16)); k += 2; }
                    else bytes.Add((byte)text[k]);
                }
                return encoding.GetString(bytes.ToArray());
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                return m.Value; // unknown charset or broken word: keep the raw text rather than fail the series
            }
        });
    }

    [GeneratedRegex(@"^([0-9]+)-")]
    private static partial Regex NumberPrefix();
    [GeneratedRegex(@"^From [0-9a-f]{7,64} ")]
    private static partial Regex MboxFrom();
    [GeneratedRegex(@"^([A-Za-z0-9-]+):(.*)$")]
    private static partial Regex HeaderLine();
    [GeneratedRegex(@"^\s*\[[^\]]*\]\s*")]
    private static partial Regex SubjectTag();
    [GeneratedRegex(@"\(cherry picked from commit ([0-9a-fA-F]+)\)")]
    private static partial Regex CherryPick();
    [GeneratedRegex(@"^diff --git a/(.+) b/(.+)$")]
    private static partial Regex GitDiffLine();
    [GeneratedRegex(@"^(?:rename|copy) (?:from|to) (.+)$")]
    private static partial Regex GitRenameOrCopy();
    [GeneratedRegex(@"^(?:new file mode|new mode|index [0-9a-f]+\.\.[0-9a-f]+) 120000$")]
    private static partial Regex SymlinkMode();
    [GeneratedRegex(@"^@@ -[0-9]+(?:,([0-9]+))? \+[0-9]+(?:,([0-9]+))? @@")]
    private static partial Regex HunkHeader();
    [GeneratedRegex(@"=\?([^?]+)\?([bBqQ])\?([^?]*)\?=")]
    private static partial Regex EncodedWord();
}
