namespace Kiln.Kernel.IO;

/// <summary>
/// Resolves a path inside a tree as the kernel would, following every symlink on the way (not only the last),
/// to tell whether it stays inside the tree (a patched tree, an extracted tarball). A lexical check cannot: "d/b -> .." and "a -> d/b/.." each look harmless.
/// </summary>
public static class SymlinkResolution
{
    /// <summary>Linux gives up after 40 links too (ELOOP); a loop is treated as an escape.</summary>
    private const int MaxLinks = 40;

    /// <summary>
    /// True when <paramref name="relative"/> (relative to <paramref name="root"/>) resolves to a place inside the root;
    /// an absolute link target anywhere on the way is outside, since the tree is moved after patching or extraction.
    /// Components that do not exist yet are taken as plain names.
    /// </summary>
    public static bool StaysInside(string root, string relative)
    {
        var pending = new Stack<string>(Split(relative).Reverse());
        var resolved = new List<string>();
        var links = 0;
        while (pending.Count > 0)
        {
            var component = pending.Pop();
            if (component == "..")
            {
                if (resolved.Count == 0) return false;
                resolved.RemoveAt(resolved.Count - 1);
                continue;
            }
            var here = Path.Combine([root, .. resolved, component]);
            var target = new FileInfo(here).LinkTarget;
            if (target is null)
            {
                resolved.Add(component);
                continue;
            }
            if (++links > MaxLinks || target.StartsWith('/')) return false;
            // The link's target replaces it, relative to the directory that holds it.
            foreach (var part in Split(target).Reverse()) pending.Push(part);
        }
        return true;
    }

    private static IEnumerable<string> Split(string path) =>
        path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(c => c != ".");
}
