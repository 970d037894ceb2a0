using System.Text;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Versions;

namespace Kiln.Kernel.Sources;

/// <summary>Tries the providers in order and explains every refusal when none can serve the version.</summary>
public sealed class SourceAcquirer
{
    private readonly IReadOnlyList<ISourceProvider> _providers;

    public SourceAcquirer(IReadOnlyList<ISourceProvider> providers) => _providers = providers;

    /// <summary>
    /// The providers for --source: "auto" means the pin's list, "kernel.org" or "debian" one of them,
    /// anything else a local tree.
    /// </summary>
    public static SourceAcquirer For(string source, SeriesPin pin, VersionsManifest manifest, KernelVersion version,
        string? mirror, bool mayInstall, HttpClient http, string? keyring = null, TimeSpan? idleTimeout = null)
    {
        ISourceProvider Create(SourceSpec spec) => spec switch
        {
            SourceSpec.KernelOrg => new KernelOrgProvider(mirror ?? manifest.UrlFor(version), http, keyring, idleTimeout),
            SourceSpec.DebianPackage d => new DebianPackageProvider(d.Package, mayInstall),
            _ => throw new ArgumentOutOfRangeException(nameof(spec)),
        };

        var providers = source switch
        {
            "auto" => pin.Sources.Select(Create).ToList(),
            "kernel.org" => new List<ISourceProvider> { Create(new SourceSpec.KernelOrg()) },
            "debian" => pin.Sources.OfType<SourceSpec.DebianPackage>().Select(Create).DefaultIfEmpty(
                    Create(new SourceSpec.DebianPackage($"linux-source-{pin.Series}"))).ToList(),
            _ => new List<ISourceProvider> { new LocalTreeProvider(source) },
        };
        // A mirror the user named is tried even when the pin does not list kernel.org.
        if (mirror is not null && source == "auto" && providers.All(p => p is not KernelOrgProvider))
            providers.Insert(0, Create(new SourceSpec.KernelOrg()));
        return new SourceAcquirer(providers);
    }

    /// <summary>
    /// The first provider's verified source. <paramref name="needsTree"/> (by default: always) says whether the run needs
    /// its tree, judged before anything is extracted (a cached kernel needs none); when it does, the tree is made here,
    /// and a tree that cannot be had (its download fails) is a refusal like any other: the next provider is tried.
    /// </summary>
    public VerifiedSource Acquire(KernelVersion version, SourceCache cache, IKilnLog log, Func<VerifiedSource, bool>? needsTree = null)
    {
        var refusals = new List<(string Provider, string Reason)>();
        foreach (var provider in _providers)
        {
            try
            {
                log.Verbose($"Trying {provider.Name} for Linux {version}");
                var source = provider.Acquire(version, cache, log);
                if (needsTree?.Invoke(source) ?? true) source.Unpack();
                return source;
            }
            catch (SourceUnavailableException e)
            {
                log.Verbose($"{provider.Name}: {e.Message}");
                refusals.Add((provider.Name, e.Message));
            }
        }
        throw NoSource(version, refusals);
    }

    /// <summary>Exit 3: no provider could serve the version, each one's reason, and what works offline.</summary>
    public static KilnException NoSource(KernelVersion version, IEnumerable<(string Provider, string Reason)> refusals)
    {
        var message = new StringBuilder($"Could not get the source of Linux {version}. Tried:");
        foreach (var (provider, reason) in refusals) message.Append($"\n  - {provider}: {reason}");
        message.Append("\nOffline alternatives:")
            .Append("\n  --mirror=URL      a server laid out like kernel.org (linux-<version>.tar.xz and sha256sums.asc)")
            .Append("\n  --source=PATH     a kernel tree you already have (for example a git clone)")
            .Append("\n  --kernel=SERIES   a series Debian packages (6.1 and 6.12 on bookworm: apt-get install linux-source-<series>)");
        return new KilnException(ExitCodes.Infrastructure, message.ToString());
    }
}
