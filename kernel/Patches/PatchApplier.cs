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

/// <summary>The tree to build from. <see cref="Reused"/> is true when this run changed nothing in it.</summary>
/// <param name="ObjectsMayBeStale">
/// The working tree's earlier contents are unknown or another source's, or a symlink changed: objects built from it
/// cannot be trusted, since a file may have changed without getting a newer mtime. Apply's discardObjects ran.
/// </param>
public sealed record PatchedTree(string Path, string SeriesHash, IReadOnlyList<AppliedPatch> Applied, bool Reused, bool ObjectsMayBeStale = false);

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
/// Brings a <see cref="WorkingTree"/> to "the pristine source with this series applied", never touching the pristine
/// tree (a shared cache). Patches are always applied to pristine copies of the files first, so a patch that does not
/// apply leaves the working tree as it was. A tree with a known state is switched file by file; one without (new, made
/// by hand, or left by a killed switch) is made again from a hard-linked copy of the source.
/// </summary>
public sealed partial class PatchApplier(IKilnLog log)
{
    /// <param name="workingTree">The fixed path of the tree, next to its build directory.</param>
    /// <param name="sourceIdentity">
    /// What identifies the pristine tree's content (tarball sha256, git commit). Defaults to its path, which is right
    /// for Kiln's source cache (one immutable tree per path) but not for a tree the user edits in place.
    /// </param>
    /// <param name="pristineMayChange">
    /// A user's own tree: it may have changed in ways no state records, so the working tree is made again on every run
    /// (and with no patches the user's tree itself is built).
    /// </param>
    /// <param name="discardObjects">
    /// Empties the build directory when objects built from the tree can no longer be trusted (see
    /// <see cref="PatchedTree.ObjectsMayBeStale"/>). Called before the tree's new state is written, so a run killed in
    /// between leaves the old state, and the next run decides again.
    /// </param>
    public PatchedTree Apply(PatchSeries series, string pristineTree, string workingTree, string? sourceIdentity = null, bool pristineMayChange = false,
        Action? discardObjects = null)
    {
        discardObjects ??= () => { };
        pristineTree = Path.GetFullPath(pristineTree);
        workingTree = Path.GetFullPath(workingTree);
        if (!Directory.Exists(pristineTree))
            throw KilnException.BadInput($"Kernel source tree {pristineTree} does not exist; run the Setup target first to fetch the source.");
        // cp -a copies a symlink as a symlink: the "copy" of a linked tree (--source=~/linux -> /src/linux) would be
        // that tree itself, and the patches would land in it. Copy what the link points to.
        pristineTree = new DirectoryInfo(pristineTree).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? pristineTree;
        if (series.IsEmpty && pristineMayChange)
        {
            log.Verbose($"No patches in {series.Directory}; building your tree {pristineTree} where it is.");
            return new PatchedTree(pristineTree, series.Hash, [], Reused: true);
        }
        foreach (var patch in series.Patches) RefuseEscapingPaths(patch);

        var identity = sourceIdentity ?? pristineTree;
        var expected = series.Patches.Select(p => new AppliedPatch(p.FileName, p.Sha256)).ToList();
        var exists = Directory.Exists(workingTree);
        var state = exists ? TreeState.Read(workingTree) : null;
        var interrupted = exists ? WorkingTree.InterruptedSwitch(workingTree) : null;
        Directory.CreateDirectory(Path.GetDirectoryName(workingTree)!);
        RemoveAbandonedStaging(workingTree);

        if (interrupted is not null)
            log.Warning($"{workingTree} was left half-switched by an interrupted run; making it again from {pristineTree}");
        else if (!pristineMayChange && state is not null && state.SourceIdentity == identity)
        {
            if (state.Applied.SequenceEqual(expected))
            {
                log.Info($"Patch series {series.Directory} is already applied in {workingTree}; reusing it.");
                return new PatchedTree(workingTree, series.Hash, expected, Reused: true);
            }
            try
            {
                return Switch(series, pristineTree, workingTree, identity, expected, state, discardObjects);
            }
            catch (Exception e) when (e is IOException or PatchApplyException)
            {
                // A patch that fails on pristine copies of its files fails the same way on the whole tree, and that
                // failure (with the tree as context) is the one to report; a tree that cannot be switched is remade.
                log.Verbose($"Switching {workingTree} did not work ({e.Message.Split('\n')[0]}); making it again from {pristineTree}");
            }
        }
        else if (exists && state is null)
            log.Warning($"{workingTree} records no patch series (changed by hand?); making it again.");

        var previouslyTouched = (state?.Touched ?? []).Concat(interrupted ?? []);
        // Another source (a new release, another --source) differs in files no state lists, some with mtimes older than
        // the objects built from the old one.
        return Rebuild(series, pristineTree, workingTree, identity, expected, previouslyTouched, objectsMayBeStale: state?.SourceIdentity != identity, discardObjects);
    }

    /// <summary>Every path the series touches, each once, in order.</summary>
    private static List<string> Touched(PatchSeries series) => series.Patches.SelectMany(p => p.TouchedFiles).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>
    /// From one series to another in place: the new series is applied to pristine copies of the files it touches, then
    /// every path either series touches is made what a clean apply gives, and only those that differ are written.
    /// </summary>
    private PatchedTree Switch(PatchSeries series, string pristineTree, string workingTree, string identity, List<AppliedPatch> expected, TreeState state,
        Action discardObjects)
    {
        var touched = Touched(series);
        var paths = state.Touched.Concat(touched).Distinct(StringComparer.Ordinal).ToList();
        var staging = AtomicFile.TempPathFor(workingTree);
        try
        {
            Directory.CreateDirectory(staging);
            foreach (var relative in touched) CopyPristine(pristineTree, staging, relative);
            foreach (var patch in series.Patches) ApplyOne(patch, staging);

            WorkingTree.BeginSwitch(workingTree, paths);
            var now = touched.ToHashSet(StringComparer.Ordinal);
            var (changed, linkChanged) = (0, false);
            foreach (var relative in paths)
            {
                var desired = Existing(Path.Combine(now.Contains(relative) ? staging : pristineTree, relative));
                var link = IsLink(Path.Combine(workingTree, relative)) || (desired is not null && IsLink(desired));
                if (!WorkingTree.Sync(workingTree, relative, desired)) continue;
                changed++;
                linkChanged |= link;
            }
            foreach (var patch in series.Patches)
            foreach (var link in patch.Symlinks)
                if (!SymlinkResolution.StaysInside(workingTree, link.Path))
                    throw SymlinkEscape(patch, link);
            if (linkChanged) discardObjects();
            new TreeState(identity, expected, touched).Write(workingTree, pristineTree, series);
            WorkingTree.EndSwitch(workingTree);
            log.Info($"Switched {workingTree} to the {expected.Count} patch(es) of {series.Directory}: {changed} of {paths.Count} touched file(s) changed, " +
                     "every other file keeps its mtime, so make rebuilds only what those affect");
            return new PatchedTree(workingTree, series.Hash, expected, Reused: changed == 0, ObjectsMayBeStale: linkChanged);
        }
        finally
        {
            SourceCache.DeleteDirectory(staging);
        }
    }

    /// <summary>
    /// A new working tree: a hard-linked copy of the source with the series applied, renamed over the old one when done.
    /// Paths an earlier series touched that this one does not get fresh copies (new mtimes), so make sees they changed.
    /// </summary>
    private PatchedTree Rebuild(PatchSeries series, string pristineTree, string workingTree, string identity, List<AppliedPatch> expected,
        IEnumerable<string> previouslyTouched, bool objectsMayBeStale, Action discardObjects)
    {
        var touched = Touched(series);
        previouslyTouched = previouslyTouched.ToList();
        var staging = AtomicFile.TempPathFor(workingTree);
        string? replaced = null;
        try
        {
            CopyTree(pristineTree, staging);
            if (new DirectoryInfo(staging).LinkTarget is not null)
                throw KilnException.Infrastructure($"{staging} is a link, not a copy of {pristineTree}; refusing to patch through it. Remove it and run again.");
            foreach (var patch in series.Patches) ApplyOne(patch, staging);
            foreach (var relative in previouslyTouched.Except(touched, StringComparer.Ordinal).Distinct(StringComparer.Ordinal))
            {
                var path = Path.Combine(staging, relative);
                if (File.Exists(path) && new FileInfo(path).LinkTarget is null) WorkingTree.FreshCopy(path, path);
            }
            objectsMayBeStale |= previouslyTouched.Concat(touched).Any(relative =>
                IsLink(Path.Combine(staging, relative)) || IsLink(Path.Combine(workingTree, relative)));
            if (objectsMayBeStale) discardObjects();
            new TreeState(identity, expected, touched).Write(staging, pristineTree, series);
            if (Directory.Exists(workingTree)) Directory.Move(workingTree, replaced = AtomicFile.TempPathFor(workingTree));
            Directory.Move(staging, workingTree);
        }
        catch
        {
            SourceCache.DeleteDirectory(staging);
            throw;
        }
        if (replaced is not null) SourceCache.DeleteDirectory(replaced);
        log.Info(expected.Count == 0
            ? $"Working tree {workingTree}: the pristine source, no patches"
            : $"Applied {expected.Count} patch(es) from {series.Directory}: {workingTree}");
        return new PatchedTree(workingTree, series.Hash, expected, Reused: false, objectsMayBeStale);
    }

    /// <summary>
    /// make follows a symlink to its target, whose mtime (a pristine file's) predates every object: a link that appears,
    /// goes or points elsewhere changes what is compiled without a newer mtime, so objects cannot be trusted after it.
    /// </summary>
    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    /// <summary>The path if anything (a file or a symlink, even a dangling one) is there, else null.</summary>
    private static string? Existing(string path) => File.Exists(path) || new FileInfo(path).LinkTarget is not null ? path : null;

    /// <summary>A pristine file (or symlink) into the sparse staging tree a switch applies the series to.</summary>
    private static void CopyPristine(string pristineTree, string staging, string relative)
    {
        var source = Path.Combine(pristineTree, relative);
        var target = Path.Combine(staging, relative);
        if (Existing(source) is null) return;
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (new FileInfo(source).LinkTarget is { } link) File.CreateSymbolicLink(target, link);
        else File.Copy(source, target);
    }

    /// <summary>Deletes staging and replaced trees left by runs that were killed; those of live processes may still be in use.</summary>
    private void RemoveAbandonedStaging(string workingTree) =>
        SourceCache.RemoveAbandoned(Path.GetDirectoryName(workingTree)!, AtomicFile.TempPrefix(workingTree), log);

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
            var file = new FileInfo(Path.Combine(tree, relative));
            if (!file.Exists || file.LinkTarget is not null) continue;
            var copy = file.FullName + ".kiln-unlink";
            File.Copy(file.FullName, copy, overwrite: true); // keeps the mode on Unix
            File.Move(copy, file.FullName, overwrite: true);
        }
    }

    /// <summary>Checked before anything is written: a switch writes every touched path into the working tree.</summary>
    private static void RefuseEscapingPaths(PatchFile patch)
    {
        foreach (var relative in patch.TouchedFiles)
            if (Path.IsPathRooted(relative) || relative.Split('/').Contains(".."))
                throw KilnException.BadInput($"{patch.FullPath}: refuses to patch '{relative}', a path outside the source tree.");
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
