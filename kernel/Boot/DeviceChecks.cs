using System.Globalization;

namespace Kiln.Kernel.Boot;

/// <summary>
/// Judges the machine checks: SMP and memory from what the guest measured, each device from the guest's report and
/// what the host found on its side, cgroup2 and namespaces from the guest's report. The guest says "na" only for a
/// driver its kernel lacks; the host believes that only when the reported config agrees.
/// </summary>
public static class DeviceChecks
{
    public const string Smp = "smp";
    public const string Memory = "memory";
    public const string Cgroup2 = "cgroup2";
    public const string Namespaces = "namespaces";
    /// <summary>What the guest measured: its online CPUs and MemTotal.</summary>
    public const string ObservedCpus = "nproc";
    public const string ObservedMemTotal = "memtotal-kib";
    /// <summary>MemTotal is RAM minus what firmware and the kernel keep, so it may fall this far short of --memory.</summary>
    public const double MemoryTolerance = 0.10;

    public static IReadOnlyList<BootCheck> Judge(MachineSetup machine, GuestReport report, IReadOnlyDictionary<string, string>? config, HostObservations host)
    {
        var checks = new List<BootCheck> { JudgeSmp(machine.Smp, report, config), JudgeMemory(machine.Memory, report) };
        foreach (var device in GuestDevice.All)
        {
            if (host.Skipped.TryGetValue(device.Name, out var reason))
            {
                checks.Add(new BootCheck(device.Name, CheckStatus.Skipped, reason, TimeSpan.Zero));
                continue;
            }
            checks.Add(Verify(FromGuest(device.Name, report, config, device.DriverOptions.Concat(machine.Profile.TransportOptions)), device, host, report));
        }
        checks.Add(FromGuest(Cgroup2, report, config, ["CONFIG_CGROUPS"]));
        checks.Add(FromGuest(Namespaces, report, config, ["CONFIG_NAMESPACES"]));
        return checks;
    }

    private static BootCheck JudgeSmp(int smp, GuestReport report, IReadOnlyDictionary<string, string>? config)
    {
        if (!report.Observed.TryGetValue(ObservedCpus, out var text) || !int.TryParse(text, CultureInfo.InvariantCulture, out var cpus))
            return new BootCheck(Smp, CheckStatus.Fail, "the guest did not report nproc", TimeSpan.Zero);
        if (config is not null && !IsBuiltIn(config, "CONFIG_SMP") && smp > 1)
            return cpus == 1
                ? new BootCheck(Smp, CheckStatus.NotApplicable, $"CONFIG_SMP is not set: the kernel runs on 1 of the {smp} vCPUs (nproc 1)", TimeSpan.Zero)
                : new BootCheck(Smp, CheckStatus.Fail, $"CONFIG_SMP is not set, yet nproc is {cpus}", TimeSpan.Zero);
        return cpus == smp
            ? new BootCheck(Smp, CheckStatus.Pass, $"nproc {cpus} = --smp {smp}", TimeSpan.Zero)
            : new BootCheck(Smp, CheckStatus.Fail, $"nproc {cpus}, but the guest has --smp {smp} vCPUs", TimeSpan.Zero);
    }

    private static BootCheck JudgeMemory(MemorySize memory, GuestReport report)
    {
        if (!report.Observed.TryGetValue(ObservedMemTotal, out var text) || !long.TryParse(text, CultureInfo.InvariantCulture, out var kib))
            return new BootCheck(Memory, CheckStatus.Fail, "the guest did not report MemTotal", TimeSpan.Zero);
        var wantedKib = memory.MiB * 1024.0;
        var share = kib / wantedKib;
        var what = $"MemTotal {kib / 1024} MiB of --memory {memory.MiB} MiB ({share * 100:0}%)";
        return share >= 1 - MemoryTolerance && share <= 1
            ? new BootCheck(Memory, CheckStatus.Pass, what, TimeSpan.Zero)
            : new BootCheck(Memory, CheckStatus.Fail, what + $", not within {MemoryTolerance * 100:0}%", TimeSpan.Zero);
    }

    /// <summary>The guest's verdict on a check, with its "na" held against the reported config.</summary>
    private static BootCheck FromGuest(string name, GuestReport report, IReadOnlyDictionary<string, string>? config, IEnumerable<string> needs)
    {
        if (!report.Checks.TryGetValue(name, out var guest))
            return new BootCheck(name, CheckStatus.Fail, "not reported: the guest init died or hung before this check", TimeSpan.Zero);
        var message = guest.Message;
        switch (guest.Status)
        {
            case GuestCheckStatus.Ok:
                return new BootCheck(name, CheckStatus.Pass, message, TimeSpan.Zero);
            case GuestCheckStatus.NotApplicable:
                var absent = needs.Where(o => config is not null && !IsBuiltIn(config, o)).ToList();
                return config is null || absent.Count > 0
                    ? new BootCheck(name, CheckStatus.NotApplicable, message, TimeSpan.Zero)
                    : new BootCheck(name, CheckStatus.Fail, $"the guest skipped it ({message}), but the kernel's config has {string.Join(", ", needs)}", TimeSpan.Zero);
            default:
                return new BootCheck(name, CheckStatus.Fail, message, TimeSpan.Zero);
        }
    }

    /// <summary>A device the guest says works passes only when the host sees the same token at its end, both ways.</summary>
    private static BootCheck Verify(BootCheck guest, GuestDevice device, HostObservations host, GuestReport report)
    {
        if (guest.Status != CheckStatus.Pass) return guest;
        var token = host.Tokens[device.Name];
        var why = report.Observed.GetValueOrDefault(device.Name) != token
            ? $"the guest reported success but not the token the host put on the {device.Name} device"
            : device.Name switch
            {
                GuestDevice.BlkName when host.BlkSectorOne != GuestDevice.BlkGuestPrefix + token =>
                    $"the guest read the disk, but sector 1 of {AttachedDevices.DiskImageName} does not hold what it wrote (found '{host.BlkSectorOne}')",
                GuestDevice.NetName when host.NetRequestPath is null => "the host's port never received the guest's request",
                GuestDevice.NetName when host.NetRequestPath != GuestDevice.NetRequestPath(report.Nonce) =>
                    $"the host's port received '{host.NetRequestPath}', not the hash of this run's nonce",
                GuestDevice.NinePName or GuestDevice.VirtioFsName when host.SharedFromGuest.GetValueOrDefault(device.Name) != token =>
                    $"the guest read the share, but the host finds no {GuestDevice.FromGuestFile} holding the token in the shared directory",
                _ => null,
            };
        return why is null ? guest : guest with { Status = CheckStatus.Fail, Message = why };
    }

    /// <summary>Requested virtio options that no check exercised in this boot: compiled in, but nobody saw them work.</summary>
    public static IReadOnlyList<string> NotExercised(IEnumerable<string> requestedBuiltIn, IReadOnlyList<BootCheck> checks, MachineProfile profile)
    {
        var ran = checks.Where(c => c.Status is CheckStatus.Pass or CheckStatus.Fail).Select(c => c.Name).ToHashSet();
        var exercised = GuestDevice.All.Where(d => ran.Contains(d.Name)).SelectMany(d => d.AllOptions).ToHashSet();
        if (GuestDevice.All.Any(d => ran.Contains(d.Name)))
            exercised.UnionWith(profile.TransportOptions.Append("CONFIG_VIRTIO_MENU"));
        // The virtio console carries the report on these machines, so every boot that reported exercised it.
        exercised.UnionWith(profile.ReportOptions);
        var virtio = GuestDevice.All.SelectMany(d => d.AllOptions).ToHashSet();
        return requestedBuiltIn.Where(o => (o.Contains("VIRTIO", StringComparison.Ordinal) || virtio.Contains(o)) && !exercised.Contains(o))
            .Distinct().ToList();
    }

    public static bool IsBuiltIn(IReadOnlyDictionary<string, string> config, string option) =>
        config.TryGetValue(option, out var value) && value == "y";
}
