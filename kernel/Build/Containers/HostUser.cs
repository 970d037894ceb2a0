namespace Kiln.Kernel.Build.Containers;

/// <summary>The invoking user's ids, so a container writes files the user owns (0:0 for root).</summary>
public static class HostUser
{
    /// <summary>"uid:gid" of this process, read from /proc/self/status (real ids).</summary>
    public static string Current()
    {
        string Id(string field) => File.ReadLines("/proc/self/status")
            .First(l => l.StartsWith(field + ":", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
        return $"{Id("Uid")}:{Id("Gid")}";
    }
}
