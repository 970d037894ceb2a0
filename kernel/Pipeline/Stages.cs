using Kiln.Kernel.Boot;
using Kiln.Kernel.Build;
using Kiln.Kernel.Build.Containers;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Identity;
using Kiln.Kernel.Packaging;
using Kiln.Kernel.Patches;
using Kiln.Kernel.Sources;

namespace Kiln.Kernel.Pipeline;

// What each stage hands the next: Acquire → Patch → Configure → Build → Boot → Package.

/// <summary>This machine made ready for the options: prerequisites present, the runtime make runs in, the guest's busybox.</summary>
public sealed record HostReady(BuildRuntime Runtime, string Busybox);

/// <summary>Acquire: the verified source (its tree extracted only on a miss, or when a stage asks), the build's identity, and the cached kernel when there is one.</summary>
/// <param name="CacheStatus">local, pulled (from the remote cache), miss (will compile) or skipped (--no-cache, local tree).</param>
public sealed record Acquired(HostReady Host, VerifiedSource Source, CacheIdentity Identity, CachedKernel? Cached, string CacheStatus)
{
    public bool Pulled => CacheStatus == "pulled";
}

/// <summary>
/// A tree to configure, build and boot, and where: the patched tree with the target's build directory, or a bisect
/// step's worktree with the bisect's. <paramref name="Reconfigure"/> skips the configure stamp (a tree that changes in place).
/// <paramref name="BuildTimestampFile"/> dates the build (its mtime); null is the tree's Makefile.
/// </summary>
public sealed record Workspace(string SourceDir, string BuildDir, string LocalVersion, string BuildLog, bool Reconfigure, HostReady Host,
    string? BuildTimestampFile = null);

/// <summary>Patch: the series applied to a copy of the source, and the workspace that builds it.</summary>
public sealed record Patched(Acquired Acquired, PatchedTree Tree, Workspace Workspace);

/// <summary>Configure: a verified .config in the workspace's build directory, the fragments merged and the time it took.</summary>
public sealed record Configured(Workspace Workspace, FragmentSet Fragments, TimeSpan Duration);

/// <summary>Build: the kernel in the cache and in --out (compiled now, or the cache hit Acquire found).</summary>
public sealed record Built(Acquired Acquired, CachedKernel Kernel, bool FromCache, string OutDir);

/// <summary>What to boot: an image, the release it must report, where results go, and the guest's busybox.</summary>
public sealed record BootRequest(string Image, string Release, string OutputDirectory, IReadOnlyList<string> ExpectedMessages, string Busybox);

/// <summary>Boot: the judged boot of a built kernel.</summary>
public sealed record Booted(Built Built, BootTestResult Result);

/// <summary>Package: every package of the booted kernel, and what skopeo said about the OCI image.</summary>
public sealed record Packaged(Booted Booted, PackageResult Result, string OciReference, SkopeoImageInfo? Inspected, PushedImage? Pushed);

/// <summary>
/// ConfigDiff: Kiln's .config (at <paramref name="OursPath"/>) against --against, and the report written to <paramref name="ReportPath"/>.
/// <paramref name="VerificationFailure"/> is Configure's exit-1 failure when requested options dropped: the diff is still worth reading, then the task fails with it.
/// </summary>
public sealed record ConfigCompared(ConfigDiff Diff, string OursPath, string AgainstPath, string ReportPath, KilnException? VerificationFailure);
