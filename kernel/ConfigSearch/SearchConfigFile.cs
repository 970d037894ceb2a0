using System.Text.RegularExpressions;
using Kiln.Kernel.Config;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.ConfigSearch;

/// <summary>A .config a search starts from (--good-config, --bad-config, --config): read, and refused when it is not one for --arch.</summary>
public static partial class SearchConfigFile
{
    [GeneratedRegex(@"^# Linux/(\S+) ", RegexOptions.Multiline)]
    private static partial Regex HeaderRegex();

    /// <param name="option">The argument that named the file, for the message.</param>
    public static KernelConfig Load(string option, string path, Arch arch)
    {
        var text = File.ReadAllText(path);
        var config = KernelConfig.Parse(text, path);
        if (config.Values.Count == 0)
            throw KilnException.BadInput($"--{option}={path}: not a kernel .config (no CONFIG_ lines). Pass the .config of a build (make O=… writes it to the build directory).");
        // make writes "# Linux/<ARCH> <version> Kernel Configuration"; the arch's own symbol (CONFIG_X86, CONFIG_ARM64) says it too.
        if (HeaderRegex().Match(text) is { Success: true } header && !Names(arch).Contains(header.Groups[1].Value))
            throw KilnException.BadInput($"--{option}={path} is a config for {header.Groups[1].Value} (its '# Linux/{header.Groups[1].Value}' line), not for --arch={arch.Name}: " +
                                         $"pass the arch it was made for, or a config made for {arch.Name}.");
        foreach (var other in Arch.All.Where(a => a != arch && config.IsEnabled(ArchSymbol(a))))
            throw KilnException.BadInput($"--{option}={path} sets {ConfigValues.Prefix}{ArchSymbol(other)}=y, so it is a config for {other.Name}, not for --arch={arch.Name}: " +
                                         $"pass --arch={other.Name}, or a config made for {arch.Name}.");
        return config;
    }

    private static IReadOnlyList<string> Names(Arch arch) => [arch.Name, arch.MakeArch, arch.SrcArch, .. arch.Aliases];

    private static string ArchSymbol(Arch arch) => arch.KconfigSymbol;
}
