using Kiln.Kernel.Build;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.IO;
namespace Kiln.Kernel.Packaging;

/// <summary>What was installed: the share directory and the files and links in it.</summary>
public sealed record KataInstall(string ShareDirectory, IReadOnlyList<string> Files, IReadOnlyList<string> Links);

/// <summary>
/// Installs a kernel the way Kata's build-kernel.sh does: <c>&lt;DESTDIR&gt;&lt;prefix&gt;/share/kata-containers/</c>
/// with <c>vmlinuz-&lt;ver&gt;-&lt;cfgver&gt;[-variant]</c>, <c>vmlinux-…</c>, <c>config-…</c> and the
/// <c>vmlinuz[-variant].container</c> / <c>vmlinux[-variant].container</c> links Kata's configuration points at.
/// </summary>
public static class KataLayout
{
    public const string ShareSubdirectory = "share/kata-containers";

    /// <param name="imageName">The compressed image in the cache entry (bzImage or Image): it becomes vmlinuz.</param>
    public static KataInstall Install(CachedKernel kernel, string imageName, string prefix, string destDir)
    {
        if (!prefix.StartsWith('/'))
            throw KilnException.BadInput($"--prefix={prefix}: must be an absolute path such as /usr or /opt/kata.");
        var share = Path.Combine(Path.GetFullPath(destDir), prefix.TrimStart('/'), ShareSubdirectory);
        Directory.CreateDirectory(share);

        // Kata's names: the key is already <version>-<config version>[-variant].
        var metadata = kernel.Metadata;
        var suffix = metadata.Variant.Length > 0 ? "-" + metadata.Variant : "";
        var files = new (string Name, string Source)[]
        {
            ($"vmlinuz-{metadata.Key}", kernel.File(imageName)),
            ($"vmlinux-{metadata.Key}", kernel.File(EntryFiles.Vmlinux)),
            ($"config-{metadata.Key}", kernel.File(EntryFiles.Config)),
        };
        foreach (var (name, source) in files)
        {
            AtomicFile.Copy(source, Path.Combine(share, name), Permissions.File);
        }
        var links = new[] { ($"vmlinuz{suffix}.container", files[0].Name), ($"vmlinux{suffix}.container", files[1].Name) };
        foreach (var (link, target) in links)
        {
            var path = Path.Combine(share, link);
            File.Delete(path);
            File.CreateSymbolicLink(path, target);
        }
        return new KataInstall(share, files.Select(f => Path.Combine(share, f.Name)).ToList(), links.Select(l => Path.Combine(share, l.Item1)).ToList());
    }
}
