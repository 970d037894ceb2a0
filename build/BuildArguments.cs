using Kiln.Build.Hosting;
using Kiln.Kernel.Pipeline;

namespace Kiln.Build;

/// <summary>The arguments --help lists and the command line accepts: those <see cref="KilnOptions"/> declares.</summary>
public static class BuildArguments
{
    public static readonly IReadOnlyList<HostArgument> All =
        KilnOptions.Arguments.Select(a => new HostArgument(a.Name, a.Description, a.ValueName, a.Default, a.ValueOptional)).ToList();

    /// <summary>What <c>-- CMD ARGS…</c> stands for: the guest command of Run.</summary>
    public static readonly string Rest = KilnOptions.ArgumentFor(nameof(KilnOptions.Exec));
}
