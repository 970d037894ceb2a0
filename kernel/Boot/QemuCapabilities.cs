using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;
using Kiln.Kernel.Processes;

namespace Kiln.Kernel.Boot;

/// <summary>The machines and devices a QEMU binary has (its <c>-machine help</c> and <c>-device help</c>), asked once per binary.</summary>
public sealed partial record QemuCapabilities(string Binary, string Version, IReadOnlySet<string> Machines, IReadOnlySet<string> Devices)
{
    private static readonly ConcurrentDictionary<string, QemuCapabilities> Known = new();

    [GeneratedRegex(@"^name ""([^""]+)""", RegexOptions.Multiline)]
    private static partial Regex DeviceLine();

    [GeneratedRegex(@"^(\S+)\s", RegexOptions.Multiline)]
    private static partial Regex MachineLine();

    [GeneratedRegex(@"version (\S+)")]
    private static partial Regex VersionLine();

    /// <summary>Asks the <paramref name="binary"/> found on PATH now; remembered by its full path.</summary>
    public static QemuCapabilities Of(string binary, IKilnLog log)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, binary)).FirstOrDefault(File.Exists) ?? binary;
        return Known.GetOrAdd(path, p =>
        {
            string Ask(params string[] arguments) => new Command(p, arguments) { Purpose = $"{binary} {string.Join(' ', arguments)}" }.Run(log).StandardOutput;
            return Parse(binary, Ask("--version"), Ask("-machine", "help"), Ask("-device", "help"));
        });
    }

    internal static QemuCapabilities Parse(string binary, string version, string machineHelp, string deviceHelp) => new(
        binary,
        VersionLine().Match(version) is { Success: true } v ? v.Groups[1].Value : version.Trim(),
        MachineLine().Matches(machineHelp).Select(m => m.Groups[1].Value).Where(n => n != "Supported").ToHashSet(StringComparer.Ordinal),
        DeviceLine().Matches(deviceHelp).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal));

    /// <summary>Exit 3 naming what is missing when this QEMU lacks the profile's machine or one of the devices it attaches.</summary>
    public void Require(MachineProfile profile, IEnumerable<string> devices)
    {
        var machine = profile.Machine.Split(',')[0];
        if (!Machines.Contains(machine))
            throw KilnException.Infrastructure($"{Binary} (QEMU {Version}) has no machine '{machine}', which the {profile.Name} profile boots; " +
                                               $"pick another --machine ({string.Join(", ", MachineProfile.For(profile.Arch).Select(p => p.Name))}) or install a QEMU that has it.");
        var missing = devices.Where(d => !Devices.Contains(d)).ToList();
        if (missing.Count > 0)
            throw KilnException.Infrastructure($"{Binary} (QEMU {Version}) has no device {string.Join(", ", missing)}, which the {profile.Name} profile attaches; " +
                                               "install a QEMU built with it or pick another --machine.");
    }
}
