using System.Formats.Tar;
using Kiln.Tests.Integration;
using Kiln.Tests.Sources;

namespace Kiln.Tests.Reliability;

/// <summary>
/// Throwaway directories for one test, under /tmp/kiln-rel-*. The shared test cache is only ever read:
/// what a test breaks is a copy, or a symlink to something it does not write.
/// </summary>
public sealed class Scratch : IDisposable
{
    public Scratch(string? name = null)
    {
        Root = Directory.CreateTempSubdirectory("kiln-rel-" + (name is null ? "" : name + "-")).FullName;
    }

    public string Root { get; }

    public string Dir(string relative)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(path);
        return path;
    }

    public string Path_(string relative) => Path.Combine(Root, relative);

    /// <summary>A copy of the repository's inputs (versions.yaml, kata_config_version, configs/, patches/) to break.</summary>
    public string Inputs(string relative = "inputs")
    {
        var root = Path.Combine(Root, relative);
        Directory.CreateDirectory(root);
        foreach (var file in new[] { "versions.yaml", "kata_config_version", "kiln.lock" })
            File.Copy(Path.Combine(KilnRun.RepoRoot, file), Path.Combine(root, file));
        foreach (var dir in new[] { "configs", "patches" })
            CopyDirectory(Path.Combine(KilnRun.RepoRoot, dir), Path.Combine(root, dir));
        return root;
    }

    /// <summary>
    /// A cache directory holding what the shared 6.1 build made: the Debian source tree for the stages that need it (a
    /// symlink: nothing writes into a source tree; a cache hit needs none) and a copy of the built kernel's entry.
    /// Pass --source=debian so the lookup finds that tree without trying the network.
    /// </summary>
    public string CacheWithSharedKernel(string relative = "cache")
    {
        _ = SharedKernel.OutDir; // builds the shared kernel once if no earlier test did
        var cache = Dir(relative);
        var sources = Dir(Path.Combine(relative, "sources"));
        var tree = TestKernel.SourceTree;
        Directory.CreateSymbolicLink(Path.Combine(sources, Path.GetFileName(tree)), tree);
        var entry = SharedEntry;
        CopyDirectory(entry, Path.Combine(cache, "kernels", Path.GetFileName(entry)));
        return cache;
    }

    /// <summary>The shared cache's entry for the 6.1 kernel of the repository's inputs.</summary>
    public static string SharedEntry
    {
        get
        {
            _ = SharedKernel.OutDir;
            var metadata = File.ReadAllText(Path.Combine(SharedKernel.OutDir, "metadata.json"));
            var hash = System.Text.Json.JsonDocument.Parse(metadata).RootElement.GetProperty("identity_hash").GetString()!;
            return Directory.GetDirectories(Path.Combine(KilnRun.SharedCacheDir, "kernels"))
                       .FirstOrDefault(d => File.Exists(Path.Combine(d, "metadata.json")) && File.ReadAllText(Path.Combine(d, "metadata.json")).Contains(hash))
                   ?? throw new InvalidOperationException("the shared cache has no entry for " + hash);
        }
    }

    /// <summary>Files and directories under a directory, relative, including hidden ones (what a killed run left).</summary>
    public static IReadOnlyList<string> Listing(string dir, bool recursive = false)
    {
        if (!Directory.Exists(dir)) return Array.Empty<string>();
        return Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = recursive, AttributesToSkip = 0 })
            .Select(p => Path.GetRelativePath(dir, p)).OrderBy(p => p, StringComparer.Ordinal).ToList();
    }

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// A kernel.org-layout mirror on 127.0.0.1 serving a tiny fake 6.1.192 tree (Makefile, Kconfig, a few files):
/// enough for Setup to download, verify and extract it. <see cref="Break"/> turns it into a bad mirror.
/// </summary>
public sealed class FakeMirror : IDisposable
{
    public const string Version = "6.1.192";
    public const string Tarball = "linux-" + Version + ".tar.xz";

    private readonly TinyHttpServer _server = new();

    public FakeMirror(int extraFiles = 0, int paddingBytes = 0)
    {
        var extra = Enumerable.Range(0, extraFiles).Select(i => Tarballs.Reg($"linux-{Version}/drivers/fake/f{i:D5}.c", $"/* {i} */\n"));
        if (paddingBytes > 0)
        {
            // Incompressible bytes make the archive big enough to be caught mid-download.
            var random = new byte[paddingBytes];
            new Random(1).NextBytes(random);
            extra = extra.Append(Tarballs.Reg($"linux-{Version}/padding.bin", Convert.ToBase64String(random)));
        }
        Good = Tarballs.TarXz(Tarballs.KernelTree(Version, $"linux-{Version}", extra));
        Serve(Good);
    }

    public byte[] Good { get; }

    public string Url => _server.BaseUrl;

    public TinyHttpServer Server => _server;

    /// <summary>Serves <paramref name="archive"/> with sha256sums.asc listing <paramref name="listedSha"/> (default: its own sha).</summary>
    public void Serve(byte[] archive, string? listedSha = null, long? claimedLength = null, TimeSpan? chunkDelay = null)
    {
        _server.Serve("/sha256sums.asc", $"{listedSha ?? Tarballs.Sha256(archive)}  {Tarball}\n");
        _server.Serve("/" + Tarball, new TinyHttpServer.Response(200, archive, claimedLength, chunkDelay));
    }

    public void Restore() => Serve(Good);

    /// <summary>An archive with one extra entry whose name would land outside the tree.</summary>
    public static byte[] Escaping(string entryName) =>
        Tarballs.TarXz(Tarballs.KernelTree(Version, $"linux-{Version}", new[] { new Tarballs.Entry(entryName, TarEntryType.RegularFile, "owned\n") }));

    /// <summary>Setup from this mirror only (no Debian fallback), into <paramref name="cacheDir"/>.</summary>
    public string[] SetupArgs(string cacheDir, string target = "Setup") => new[]
    {
        "--target=" + target, "--kernel=6.1", "--source=kernel.org", "--mirror=" + Url, "--cache-dir=" + cacheDir,
    };

    public void Dispose() => _server.Dispose();
}
