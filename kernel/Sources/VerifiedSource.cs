using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Sources;

/// <summary>
/// A kernel source whose archive is verified (kernel.org's checksum list, dpkg's record, the archive's own sha256):
/// its provenance, and with it the build's identity, is known before anything is downloaded or extracted. The tree
/// is made the first time a stage asks for it (<see cref="Tree"/>), so a run that finds its kernel cached makes none.
/// </summary>
public sealed class VerifiedSource
{
    private readonly Func<SourceTree>? _unpack;
    private SourceTree? _tree;

    private VerifiedSource(KernelVersion version, SourceProvenance provenance, SourceTree? tree, Func<SourceTree>? unpack)
    {
        Version = version;
        Provenance = provenance;
        _tree = tree;
        _unpack = unpack;
    }

    /// <summary>A source whose tree is already there: extracted by an earlier run, or the user's own.</summary>
    public static VerifiedSource Unpacked(SourceTree tree) => new(tree.Version, tree.Provenance, tree, null);

    /// <summary>
    /// A verified archive not yet extracted. <paramref name="unpack"/> makes its tree (downloading the archive first when
    /// the provider deferred that too) and throws <see cref="SourceUnavailableException"/> when the tree cannot be had.
    /// </summary>
    public static VerifiedSource Packed(KernelVersion version, SourceProvenance provenance, Func<SourceTree> unpack) =>
        new(version, provenance, null, unpack);

    public KernelVersion Version { get; }

    /// <summary>What the source is; its <see cref="SourceProvenance.Sha256"/> is the archive's, as recorded in an extracted tree.</summary>
    public SourceProvenance Provenance { get; }

    /// <summary>True once the tree exists (this run extracted it, or it was there already).</summary>
    public bool IsUnpacked => _tree is not null;

    /// <summary>The extracted tree, extracting it now on the first call; a source that cannot be had is exit 3 naming why.</summary>
    public SourceTree Tree()
    {
        try
        {
            return Unpack();
        }
        catch (SourceUnavailableException e)
        {
            throw SourceAcquirer.NoSource(Version, [(Provenance.Provider, e.Message)]);
        }
    }

    /// <summary>As <see cref="Tree"/>, but a source that cannot be had stays a <see cref="SourceUnavailableException"/>, so the acquirer can try the next provider.</summary>
    internal SourceTree Unpack() => _tree ??= _unpack!();
}
