using Cake.Core.Tooling;

namespace Kiln.Build.Tools.Docker;

/// <summary><c>docker version</c>: the Go template picks the field to print.</summary>
public sealed class DockerVersionSettings : ToolSettings
{
    public string? Format { get; set; }
}

/// <summary><c>docker image inspect</c>.</summary>
public sealed class DockerImageInspectSettings : ToolSettings
{
    public string? Format { get; set; }
}

/// <summary><c>docker import</c>: an image from a root file system tarball.</summary>
public sealed class DockerImportSettings : ToolSettings
{
    /// <summary>The commit message the image's history shows.</summary>
    public string? Message { get; set; }
}

/// <summary><c>docker run</c>.</summary>
public sealed class DockerRunSettings : ToolSettings
{
    public bool Rm { get; set; }
    public string? Name { get; set; }
    /// <summary>"uid:gid".</summary>
    public string? User { get; set; }
    /// <summary>"none" for a container without network.</summary>
    public string? Network { get; set; }
    /// <summary>Bind mounts, "HOST:CONTAINER[:OPTIONS]".</summary>
    public IList<string> Volume { get; } = new List<string>();
    public IDictionary<string, string> Env { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
    public string? Workdir { get; set; }
}

/// <summary><c>docker rm</c>.</summary>
public sealed class DockerRemoveSettings : ToolSettings
{
    /// <summary>Kill a running container first.</summary>
    public bool Force { get; set; }
}
