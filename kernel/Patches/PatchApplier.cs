using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Sources;
using Kiln.Kernel.IO;
using Kiln.Kernel.Parsing;
namespace Kiln.Kernel.Patches;

/// <summary>A patch recorded in a patched tree's marker file.</summary>
public sealed record AppliedPatch(string FileName, string Sha256);

/// <summary>The tree to build from. <see cref="Reused"/> is true when this run applied nothing (earlier run's tree, or an empty series).</summary>
public sealed record PatchedTree(string Path, string SeriesHash, IReadOnlyList<AppliedPatch> Applied, bool Reused);

/// <summary>One reason GNU patch gave for rejecting a patch.</summary>
/// <param name="File">The file in the kernel tree, when patch said which.</param>
/// <param name="Hunk">The failing hunk number, for hunk failures.</param>
/// <param name="Line">The line in the kernel file where patch expected the hunk.</param>
public sealed record PatchHunkFailure(string? File, int? Hunk, int? Line, string Reason)
{
    public override string ToString() =>
        (File ?? "(unknown file)") + ": " + (Hunk is null ? Reason : $"hunk #{Hunk} FAILED at line {Line}");
}

/// <summary>A patch of the series does not apply; the message names the patch, the file and the hunk.</summary>
public sealed class PatchApplyException(PatchFile patch, IReadOnlyList<PatchHunkFailure> failures, string message)
    : KilnException(ExitCodes.KernelFailed, message)
{
    public PatchFile Patch { get; } = patch;
    public IReadOnlyList<PatchHunkFailure> Failures { get; } = failures;
}

/// <summary>
/// Applies a patch series to a pristine source tree without touching that tree (it is a shared cache):
/// the patches go into a hard-linked staging copy that is renamed to its final, series-specific name only
/// when every patch applied. So a finished tree can be trusted and reused, and a failure leaves nothing behind.
/// </summary>
public sealed partial class PatchApplier(IKilnLog log)
{
    /// <summary>Written into a patched tree: the applied patches (name and sha256), in order.</summary>
    public const string MarkerFileName = ".kiln-patches";

    /// <summary>
    /// Returns a tree with the series applied: the pristine tree itself for an empty series, otherwise
    /// <c>&lt;workRoot&gt;/&lt;treeName&gt;-&lt;hash12&gt;</c>, made now or reused from an earlier run.
    /// </summary>
    /// <param name="treeName">Name stem of the patched tree (e.g. "linux-6.1.192"); defaults to the pristine directory's name.</param>
    /// <param name="sourceIdentity">
    /// What identifies the pristine tree's content (tarball sha256, git commit). Defaults to its path, which is right
    /// for Kiln's source cache (one immutable tree per path) but not for a tree the user edits in place.
    /// </param>
    /// <param name="reuse">False for a tree that may have changed under the same identity (a user's local tree): patch a fresh copy.</param>
    public PatchedTree Apply(PatchSeries series, string pristineTree, string workRoot, string? treeName = null, string? sourceIdentity = null, bool reuse = true)
    {
        pristineTree = Path.GetFullPath(pristineTree);
        if (!Directory.Exists(pristineTree))
            throw KilnException.BadInput($"Kernel source tree {pristineTree} does not exist; run the Setup target first to fetch the source.");
        // cp -a copies a symlink as a symlink: the "copy" of a linked tree (--source=~/linux -> /src/linux) would be
        // that tree itself, and the patches would land in it. Copy what the link points to.
        pristineTree = new DirectoryInfo(pristineTree).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? pristineTree;
        if (series.IsEmpty)
        {
            log.Verbose($"No patches in {series.Directory}; building the pristine tree {pristineTree}.");
            return new PatchedTree(pristineTree, series.Hash, [], Reused: true);
        }

        var expected = series.Patches.Select(p => new AppliedPatch(p.FileName, p.Sha256)).ToList();
        var finalTree = Path.Combine(Path.GetFullPath(workRoot), $"{treeName ?? Path.GetFileName(pristineTree)}-{TreeHash(series, sourceIdentity ?? pristineTree)}");
        if (Directory.Exists(finalTree) && !reuse)
        {
            log.Verbose($"Patching a fresh copy of {pristineTree}: it may have changed since {finalTree} was made.");
            Directory.Delete(finalTree, recursive: true);
        }
        if (Directory.Exists(finalTree))
        {
            if (ReadMarker(finalTree)?.SequenceEqual(expected) == true)
            {
                log.Info($"Patch series {series.Directory} is already applied in {finalTree}; reusing it.");
                return new PatchedTree(finalTree, series.Hash, expected, Reused: true);
            }
            // Only this class renames trees into that name, so a mismatch means someone edited it by hand.
            log.Warning($"{finalTree} does not record the expected patches (changed by hand?); making it again.");
            Directory.Delete(finalTree, recursive: true);
        }

        Directory.CreateDirectory(workRoot);
        RemoveAbandonedStaging(finalTree);
        var staging = AtomicFile.TempPathFor(finalTree);
        try
        {
            CopyTree(pristineTree, staging);
            if (new DirectoryInfo(staging).LinkTarget is not null)
                throw KilnException.Infrastructure($"{staging} is a link, not a copy of {pristineTree}; refusing to patch through it. Remove it and run again.");
            foreach (var patch in series.Patches) ApplyOne(patch, staging);
            WriteMarker(staging, pristineTree, series, expected);
            return Publish(staging, finalTree, series, expected);
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    /// <summary>The applied patches a tree's marker records, or null when it has no readable marker.</summary>
    public static IReadOnlyList<AppliedPatch>? ReadMarker(string tree)
    {
        var marker = Path.Combine(tree, MarkerFileName);
        if (!File.Exists(marker)) return null;
        return File.ReadAllLines(marker)
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('\t'))
            .Where(f => f.Length == 2)
            .Select(f => new AppliedPatch(f[0], f[1]))
            .ToList();
    }

    /// <summary>Deletes staging trees left by runs that were killed; those of live processes may still be in use.</summary>
    private void RemoveAbandonedStaging(string finalTree) =>
        SourceCache.RemoveAbandoned(Path.GetDirectoryName(finalTree)!, AtomicFile.TempPrefix(finalTree), log);

    /// <summary>12 hex digits naming the patched tree: the series and which source it was applied to.</summary>
    private static string TreeHash(PatchSeries series, string sourceIdentity) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(series.Hash + "\n" + sourceIdentity)))[..12];

    private void CopyTree(string pristineTree, string staging)
    {
        // Hard links make a 1.3 GB tree copy take a second and no space; patched files get new inodes (below).
        var linked = new Command("cp", "-al", pristineTree, staging) { AcceptedExitCodes = [0, 1], Purpose = "Copy the source tree" }.Run(log);
        if (linked.ExitCode == 0) return;
        log.Warning($"Cannot hard-link {pristineTree} into {Path.GetDirectoryName(staging)} ({linked.StandardError.Trim()}); copying it instead, which is slower. Put the work directory on the same file system as the source cache to avoid this.");
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        new Command("cp", "-a", pristineTree, staging) { Purpose = "Copy the source tree" }.Run(log);
    }

    private void ApplyOne(PatchFile patch, string tree)
    {
        BreakHardLinks(patch, tree);
        foreach (var link in patch.Symlinks)
            if (link.Target.StartsWith('/') || !SymlinkResolution.StaysInside(tree, Path.Combine(Path.GetDirectoryName(link.Path) ?? "", link.Target)))
                throw SymlinkEscape(patch, link);
        var dryRun = RunPatch(patch, tree, dryRun: true);
        if (dryRun.ExitCode != 0) throw Failure(patch, tree, dryRun.StandardOutput + dryRun.StandardError);
        var applied = RunPatch(patch, tree, dryRun: false);
        if (applied.ExitCode != 0) throw Failure(patch, tree, applied.StandardOutput + applied.StandardError);
        // Checked again as applied: two links the lexical check passes can still chain out of the tree (d/b -> .., a -> d/b/..).
        foreach (var link in patch.Symlinks)
            if (!SymlinkResolution.StaysInside(tree, link.Path))
                throw SymlinkEscape(patch, link);
        log.Info($"Applied {patch.FileName}");
    }

    private static KilnException SymlinkEscape(PatchFile patch, PatchSymlink link) =>
        KilnException.BadInput($"{patch.FullPath}:{link.Line}: refuses to create the symlink '{link.Path}' -> '{link.Target}', which points outside the source tree. " +
                               "Make the link relative and inside the tree, or drop it from the patch.");

    private CommandResult RunPatch(PatchFile patch, string tree, bool dryRun)
    {
        // --fuzz=0 as git am and quilt: with patch's default fuzz a hunk whose context no longer matches lands wherever
        // its remaining lines fit, which builds a kernel nobody reviewed. A changed offset is still accepted.
        var args = new List<string> { "-p1", "--forward", "--batch", "--fuzz=0", "--no-backup-if-mismatch", "--quoting-style=literal" };
        if (dryRun) args.Add("--dry-run");
        args.AddRange(["-i", patch.FullPath]);
        var command = new Command("patch", args.ToArray())
        {
            WorkingDirectory = tree,
            AcceptedExitCodes = [0, 1, 2], // failures are parsed below into patch/file/hunk messages
            Purpose = $"{(dryRun ? "Check" : "Apply")} patch {patch.FileName}",
        };
        command.Environment["LC_ALL"] = "C"; // the messages are parsed
        return command.Run(log);
    }

    /// <summary>
    /// Gives every file the patch touches its own inode before patching. GNU patch 2.7 writes a new file and
    /// renames it (checked: content and mode changes leave the other link alone), but the pristine tree is a
    /// shared cache and a write-through would corrupt it silently, so this does not rely on that.
    /// </summary>
    private static void BreakHardLinks(PatchFile patch, string tree)
    {
        foreach (var relative in patch.TouchedFiles)
        {
            if (Path.IsPathRooted(relative) || relative.Split('/').Contains(".."))
                throw KilnException.BadInput($"{patch.FullPath}: refuses to patch '{relative}', a path outside the source tree.");
            var file = new FileInfo(Path.Combine(tree, relative));
            if (!file.Exists || file.LinkTarget is not null) continue;
            var copy = file.FullName + ".kiln-unlink";
            File.Copy(file.FullName, copy, overwrite: true); // keeps the mode on Unix
            File.Move(copy, file.FullName, overwrite: true);
        }
    }

    private static void WriteMarker(string tree, string pristineTree, PatchSeries series, IEnumerable<AppliedPatch> applied)
    {
        var text = new StringBuilder()
            .Append("# Patches applied by Kiln to ").Append(pristineTree).Append('\n')
            .Append("# Series ").Append(series.Directory).Append(", hash ").Append(series.Hash).Append('\n');
        foreach (var p in applied) text.Append(p.FileName).Append('\t').Append(p.Sha256).Append('\n');
        File.WriteAllText(Path.Combine(tree, MarkerFileName), text.ToString());
    }

    private PatchedTree Publish(string staging, string finalTree, PatchSeries series, IReadOnlyList<AppliedPatch> expected)
    {
        try
        {
            Directory.Move(staging, finalTree);
        }
        catch (IOException) when (Directory.Exists(finalTree) && ReadMarker(finalTree)?.SequenceEqual(expected) == true)
        {
            // A concurrent run finished the same tree first; its result is as good as ours.
            Directory.Delete(staging, recursive: true);
            return new PatchedTree(finalTree, series.Hash, expected, Reused: true);
        }
        log.Info($"Applied {expected.Count} patch(es) from {series.Directory}: {finalTree}");
        return new PatchedTree(finalTree, series.Hash, expected, Reused: false);
    }

    private static PatchApplyException Failure(PatchFile patch, string tree, string output)
    {
        var failures = ParseFailures(output);
        var message = new StringBuilder($"Patch {patch.FileName} does not apply ({patch.FullPath}):");
        foreach (var f in failures) message.Append(Environment.NewLine).Append("  ").Append(f);
        message.Append(Environment.NewLine)
            .Append("Refresh the patch against this kernel version (or drop it if upstream already has it). GNU patch said:")
            .Append(Environment.NewLine)
            .Append(string.Join(Environment.NewLine, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => "  | " + l.TrimEnd())));
        return new PatchApplyException(patch, failures, message.ToString());
    }

    /// <summary>Reads GNU patch's (LC_ALL=C) report into per-file, per-hunk failures.</summary>
    internal static IReadOnlyList<PatchHunkFailure> ParseFailures(string output)
    {
        var failures = new List<PatchHunkFailure>();
        string? file = null;
        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (FileLine().Match(line) is { Success: true } f) file = f.Groups[1].Value;
            else if (HunkFailed().Match(line) is { Success: true } h)
                failures.Add(new(file, WholeNumber.Parse(h.Groups[1].Value), WholeNumber.Parse(h.Groups[2].Value), line.Trim()));
            else if (line.StartsWith("Reversed (or previously applied) patch detected", StringComparison.Ordinal))
                failures.Add(new(file, null, null, "already applied (or reversed) in this tree"));
            else if (line.StartsWith("can't find file to patch", StringComparison.Ordinal))
            {
                // patch then quotes the text before the hunk, "|"-prefixed; its last "|+++ b/x" names the file.
                var quoted = lines.Skip(i + 1).SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).ToList();
                var header = quoted.LastOrDefault(l => l.StartsWith("|+++ ", StringComparison.Ordinal))
                             ?? quoted.LastOrDefault(l => l.StartsWith("|--- ", StringComparison.Ordinal));
                var missing = header is null ? null : StripOneComponent(header[5..].Split('\t')[0].Trim());
                failures.Add(new(missing, null, null, "file not found in the source tree"));
            }
            else if (line.StartsWith("patch: **** ", StringComparison.Ordinal))
                failures.Add(new(file, null, null, line["patch: **** ".Length..]));
            else if (line.Contains("refusing to patch", StringComparison.Ordinal) || line.StartsWith("Ignoring potentially dangerous file name", StringComparison.Ordinal))
                failures.Add(new(file, null, null, line.Trim()));
        }
        return failures;
    }

    private static string StripOneComponent(string path)
    {
        var slash = path.IndexOf('/');
        return slash < 0 ? path : path[(slash + 1)..];
    }

    [GeneratedRegex(@"^(?:checking|patching) file (.+?)(?: \((?:renamed|copied) from .+\))?$")]
    private static partial Regex FileLine();
    [GeneratedRegex(@"^Hunk #(\d+) FAILED at (\d+)")]
    private static partial Regex HunkFailed();
}
