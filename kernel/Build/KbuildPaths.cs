using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Build;

/// <summary>
/// kbuild refuses source and output directories whose absolute path holds a space or a colon
/// ("source directory cannot contain spaces or colons"). Say so before make does, as bad input.
/// </summary>
public static class KbuildPaths
{
    public static void Check(string sourceDir, string buildDir)
    {
        foreach (var (what, path) in new[] { ("kernel source tree", sourceDir), ("build directory", buildDir) })
        {
            var full = Path.GetFullPath(path);
            if (full.IndexOfAny(new[] { ' ', ':' }) < 0) continue;
            throw KilnException.BadInput(
                $"The {what} '{full}' has a space or colon in its path, and the kernel's build system cannot build there. " +
                "Choose a --cache-dir (and, for a local tree, a --source) whose path has neither; the repository and --out may have them.");
        }
    }
}
