using System.Text;
using Kiln.Kernel.IO;

namespace Kiln.Kernel.Patches;

/// <summary>
/// What a working tree holds, recorded in it: the source it was copied from, the patches applied (name and sha256, in
/// order) and every path those patches touched. The touched paths are what a later series must look at when it
/// switches the tree: every other file is still the pristine source's.
/// </summary>
public sealed record TreeState(string SourceIdentity, IReadOnlyList<AppliedPatch> Applied, IReadOnlyList<string> Touched)
{
    private const string SourcePrefix = "#source ";
    private const string TouchedPrefix = "#touched ";

    /// <summary>The state a tree records, or null when it records none that can be read.</summary>
    public static TreeState? Read(string tree)
    {
        var marker = Path.Combine(tree, WorkingTree.MarkerFileName);
        if (!File.Exists(marker)) return null;
        string? source = null;
        var applied = new List<AppliedPatch>();
        var touched = new List<string>();
        foreach (var line in File.ReadAllLines(marker))
        {
            if (line.StartsWith(SourcePrefix, StringComparison.Ordinal)) source = line[SourcePrefix.Length..];
            else if (line.StartsWith(TouchedPrefix, StringComparison.Ordinal)) touched.Add(line[TouchedPrefix.Length..]);
            else if (line.Length > 0 && !line.StartsWith('#') && line.Split('\t') is [var name, var sha]) applied.Add(new AppliedPatch(name, sha));
        }
        return source is null ? null : new TreeState(source, applied, touched);
    }

    public void Write(string tree, string describedSource, PatchSeries series)
    {
        var text = new StringBuilder()
            .Append("# Patches applied by Kiln to ").Append(describedSource).Append('\n')
            .Append("# Series ").Append(series.Directory).Append(", hash ").Append(series.Hash).Append('\n')
            .Append(SourcePrefix).Append(SourceIdentity).Append('\n');
        foreach (var path in Touched) text.Append(TouchedPrefix).Append(path).Append('\n');
        foreach (var p in Applied) text.Append(p.FileName).Append('\t').Append(p.Sha256).Append('\n');
        AtomicFile.WriteAllText(Path.Combine(tree, WorkingTree.MarkerFileName), text.ToString());
    }
}

/// <summary>
/// The one tree a build directory builds from, kept at a fixed path next to it so that make's objects and ccache's
/// entries (paths relative to the cache dir) stay valid from one patch series to the next. Switching it to another
/// series rewrites only the files whose bytes differ, each with a new mtime, so make rebuilds exactly what changed.
/// A file may never get an older mtime than its object: restoring a file to the pristine source's bytes copies them
/// rather than hard-linking the pristine file, whose mtime predates every build.
/// </summary>
public static class WorkingTree
{
    /// <summary>The tree's state (<see cref="TreeState"/>): written last, so a tree without it is not trusted.</summary>
    public const string MarkerFileName = ".kiln-patches";

    /// <summary>
    /// Present while a switch rewrites files: it lists every path the switch may have changed. A run killed mid-switch
    /// leaves it, and the next run rebuilds the tree from the pristine source, treating those paths as changed.
    /// </summary>
    public const string SwitchingFileName = ".kiln-switching";

    /// <summary>Paths a killed switch may have left changed, or null when no switch was interrupted.</summary>
    public static IReadOnlyList<string>? InterruptedSwitch(string tree)
    {
        var flag = Path.Combine(tree, SwitchingFileName);
        return File.Exists(flag) ? File.ReadAllLines(flag).Where(l => l.Length > 0).ToList() : null;
    }

    public static void BeginSwitch(string tree, IEnumerable<string> paths) =>
        AtomicFile.WriteAllText(Path.Combine(tree, SwitchingFileName), string.Join('\n', paths) + "\n");

    public static void EndSwitch(string tree) => File.Delete(Path.Combine(tree, SwitchingFileName));

    /// <summary>
    /// Makes <paramref name="tree"/>/<paramref name="relative"/> what <paramref name="desired"/> is (null: absent), if it
    /// is not already. Returns whether the tree changed.
    /// </summary>
    public static bool Sync(string tree, string relative, string? desired)
    {
        var target = Path.Combine(tree, relative);
        var want = desired is null ? null : Entry.Of(desired);
        var have = Entry.Of(target);
        if (want?.Kind == EntryKind.Directory || have?.Kind == EntryKind.Directory)
            throw new IOException($"{target}: a patch turns a directory into a file or back; the tree is made again instead of switched");
        if (want == have && (want is null || want.Kind != EntryKind.File || SameBytes(desired!, target))) return false;

        if (have is not null) File.Delete(target);
        if (want is null)
        {
            RemoveEmptyParents(tree, relative);
            return true;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (want.Kind == EntryKind.Symlink) File.CreateSymbolicLink(target, want.LinkTarget!);
        else FreshCopy(desired!, target);
        return true;
    }

    /// <summary>
    /// A copy of <paramref name="source"/> at <paramref name="target"/> with its own inode, its mode and the current time
    /// as its mtime (File.Copy keeps the source's mtime, and an old mtime would hide the change from make).
    /// </summary>
    public static void FreshCopy(string source, string target)
    {
        AtomicFile.Copy(source, target, File.GetUnixFileMode(source));
        File.SetLastWriteTimeUtc(target, DateTime.UtcNow);
    }

    /// <summary>Directories a removed patch had created, now empty, go too: the tree must look like a clean apply.</summary>
    private static void RemoveEmptyParents(string tree, string relative)
    {
        var dir = Path.GetDirectoryName(relative);
        while (!string.IsNullOrEmpty(dir))
        {
            var full = Path.Combine(tree, dir);
            if (!Directory.Exists(full) || Directory.EnumerateFileSystemEntries(full).Any()) return;
            Directory.Delete(full);
            dir = Path.GetDirectoryName(dir);
        }
    }

    private static bool SameBytes(string a, string b)
    {
        var (fa, fb) = (new FileInfo(a), new FileInfo(b));
        if (fa.Length != fb.Length) return false;
        using var sa = fa.OpenRead();
        using var sb = fb.OpenRead();
        var (ba, bb) = (new byte[81920], new byte[81920]);
        while (true)
        {
            var n = sa.ReadAtLeast(ba, ba.Length, throwOnEndOfStream: false);
            if (n == 0) return true;
            if (sb.ReadAtLeast(bb, n, throwOnEndOfStream: false) != n || !ba.AsSpan(0, n).SequenceEqual(bb.AsSpan(0, n))) return false;
        }
    }

    private enum EntryKind { File, Symlink, Directory }

    /// <summary>What a path is, as far as a switch compares it: a symlink by its target, a file by its mode (bytes apart).</summary>
    private sealed record Entry(EntryKind Kind, string? LinkTarget, UnixFileMode Mode)
    {
        public static Entry? Of(string path)
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is { } link) return new Entry(EntryKind.Symlink, link, 0);
            if (info.Exists) return new Entry(EntryKind.File, null, info.UnixFileMode);
            return Directory.Exists(path) ? new Entry(EntryKind.Directory, null, 0) : null;
        }
    }
}
