using Kiln.Kernel.Build;

namespace Kiln.Kernel.RemoteCache;

/// <summary>
/// The tags one build has in a registry, for --push and the remote cache alike: the multi-arch index that lists every
/// arch of its key and toolchain, and its arch's own tag next to it. gcc keeps the names Kiln used before toolchains
/// (<c>6.1.192-1</c>, <c>6.1.192-1-amd64</c>), so existing pulls and CI keep working; another toolchain adds its name to
/// the key (<c>6.1.192-1-clang</c>, <c>6.1.192-1-clang-amd64</c>), so a clang build never replaces the gcc one of its arch.
/// </summary>
public sealed record RegistryTags(string Key, Arch Arch, Toolchain Toolchain)
{
    /// <summary>The tag of the OCI image index that lists this key's arches built with this toolchain.</summary>
    public string Index => Key + Toolchain.NameSuffix;

    /// <summary>The tag of this arch's own manifest (LinuxKit's -amd64/-arm64 tags), next to the index.</summary>
    public string ArchTag => $"{Index}-{Arch.OciArch}";

    /// <summary>The tags of the build <paramref name="metadata"/> describes.</summary>
    public static RegistryTags Of(BuildMetadata metadata) => new(metadata.Key, Arch.Parse(metadata.Arch), metadata.BuiltWith);
}
