using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Sources;

/// <summary>One way of getting a kernel tree. Throws <see cref="SourceUnavailableException"/> when it cannot serve the version.</summary>
public interface ISourceProvider
{
    /// <summary>Shown in messages and recorded as provenance ("kernel.org", "debian:linux-source-6.1").</summary>
    string Name { get; }

    /// <summary>Verifies the version's source (or finds its extracted tree); extracting is left to <see cref="VerifiedSource.Tree"/>.</summary>
    VerifiedSource Acquire(KernelVersion version, SourceCache cache, IKilnLog log);
}

/// <summary>This provider cannot serve the version (offline, not packaged, not installed); the next one is tried.</summary>
public sealed class SourceUnavailableException : Exception
{
    public SourceUnavailableException(string reason) : base(reason)
    {
    }
}
