using System.Diagnostics;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.HostSetup;
using Kiln.Kernel.Processes;
using Kiln.Kernel.Sources;
using Kiln.Kernel.IO;

namespace Kiln.Kernel.Build.Containers;

/// <summary>
/// Finds or makes the builder image without any registry: debootstrap a minimal Debian with the recipe's packages,
/// then import its root file system. The image gets its final tag only once it is complete.
/// </summary>
public static class BuilderImageFactory
{
    public static BuilderImage Ensure(IContainerEngine engine, BuilderImageRecipe recipe, string cacheDir, IKilnLog log)
    {
        var version = engine.ServerVersion();
        if (Find(engine, recipe, version, log) is { } found) return found;
        // Two runs on one cache make the image once: the second finds the first one's.
        using (CacheLock.Acquire(KilnPaths.BuilderLock(cacheDir, recipe.Hash[..16]), log))
        {
            if (Find(engine, recipe, version, log) is { } made) return made;
            return Create(engine, recipe, version, KilnPaths.BuilderWork(cacheDir), log);
        }
    }

    private static BuilderImage? Find(IContainerEngine engine, BuilderImageRecipe recipe, string version, IKilnLog log)
    {
        if (engine.ImageId(recipe.Reference) is not { } id) return null;
        log.Info($"Builder image {recipe.Reference} ({id[..Math.Min(19, id.Length)]}) is there: reusing it");
        return new BuilderImage(recipe.Reference, id, version);
    }

    private static BuilderImage Create(IContainerEngine engine, BuilderImageRecipe recipe, string version, string workDir, IKilnLog log)
    {
        if (!Prerequisites.OnPath("debootstrap"))
            throw KilnException.BadInput("Making the builder image needs debootstrap: apt-get install debootstrap (or rerun with --install-deps).");
        if (!HostUser.Current().StartsWith("0:", StringComparison.Ordinal))
            throw KilnException.BadInput($"Making the builder image {recipe.Reference} needs root (debootstrap): run this once as root; later runs reuse the image.");

        var watch = Stopwatch.StartNew();
        // Called under the image's lock: a staging directory of this recipe that exists now was left by a killed run.
        if (Directory.Exists(workDir))
            foreach (var abandoned in Directory.GetDirectories(workDir, $"{recipe.Hash[..16]}.tmp-*"))
                Directory.Delete(abandoned, recursive: true);
        var staging = Path.Combine(workDir, $"{recipe.Hash[..16]}.tmp-{Guid.NewGuid():N}");
        var rootfs = Path.Combine(staging, "rootfs");
        var tarball = Path.Combine(staging, "rootfs.tar");
        Directory.CreateDirectory(rootfs);
        try
        {
            log.Info($"Making builder image {recipe.Reference}: debootstrap {recipe.Suite} from {recipe.Mirror} with {recipe.Packages.Count} packages " +
                     "(a few minutes, once per package list)");
            Debootstrap(recipe, rootfs, log);
            log.Info($"Builder image: root file system ready after {watch.Elapsed:mm\\:ss}, importing it");
            new Command("tar", "-C", rootfs, "--numeric-owner", "-cf", tarball, ".") { Purpose = "Pack the builder image's root file system" }.Run(log);
            engine.Import(tarball, recipe.Reference, $"Kiln builder: Debian {recipe.Suite} from {recipe.Mirror}, packages {string.Join(' ', recipe.Packages)}");
            var id = engine.ImageId(recipe.Reference)
                     ?? throw KilnException.Infrastructure($"{engine.Name} imported {recipe.Reference} but does not show it.");
            log.Info($"Made builder image {recipe.Reference} ({id[..Math.Min(19, id.Length)]}) in {watch.Elapsed:mm\\:ss}");
            return new BuilderImage(recipe.Reference, id, version);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private static void Debootstrap(BuilderImageRecipe recipe, string rootfs, IKilnLog log)
    {
        var lines = new List<string>();
        void OnLine(string line)
        {
            lock (lines) lines.Add(line);
            // One line per package would drown the phases; those go to the verbose log.
            if (IsPerPackage(line)) log.Verbose(line); else log.Info("debootstrap: " + line);
        }
        var result = new Command("debootstrap", "--variant=minbase", "--include=" + string.Join(',', recipe.Packages),
            recipe.Suite, rootfs, recipe.Mirror)
        {
            Purpose = "debootstrap",
            CaptureOutput = false,
            OnOutput = OnLine,
            OnError = OnLine,
            AcceptedExitCodes = Enumerable.Range(0, 256).ToArray(),
        }.Run(log);
        if (result.ExitCode == 0) return;
        throw DescribeFailure(recipe, lines);
    }

    /// <summary>Says whose fault a failed debootstrap is: the package list (exit 2) or the mirror (exit 3).</summary>
    public static KilnException DescribeFailure(BuilderImageRecipe recipe, IReadOnlyList<string> output)
    {
        var tail = string.Join("\n  ", output.TakeLast(12));
        if (output.FirstOrDefault(l => l.Contains("Couldn't find these debs", StringComparison.Ordinal)) is { } unknown)
            return KilnException.BadInput($"{BuilderImageRecipe.PackagesFile} names packages {recipe.Suite} does not have: {unknown}");
        if (output.Any(l => l.Contains("Failed getting", StringComparison.Ordinal) || l.Contains("Couldn't download", StringComparison.Ordinal)))
            return KilnException.Infrastructure(
                $"debootstrap could not download Debian {recipe.Suite} from the mirror {recipe.Mirror}: is it reachable? " +
                $"(--builder-mirror=URL chooses another)\n  {tail}");
        return KilnException.Infrastructure($"debootstrap of Debian {recipe.Suite} from {recipe.Mirror} failed:\n  {tail}");
    }

    private static bool IsPerPackage(string line) =>
        new[] { "I: Retrieving ", "I: Validating ", "I: Extracting ", "I: Unpacking ", "I: Configuring " }
            .Any(p => line.StartsWith(p, StringComparison.Ordinal)) && !line.EndsWith("Release", StringComparison.Ordinal) &&
        !line.StartsWith("I: Configuring the base system", StringComparison.Ordinal);
}
