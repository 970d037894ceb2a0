namespace Kiln.Build.Hosting;

/// <summary>
/// An argument the build accepts, for --help and for rejecting misspelled arguments.
/// (Kiln's addition to the Frosting API: real Cake.Frosting accepts any argument silently.)
/// </summary>
/// <param name="ValueOptional">The value may be left out: <c>--name</c> alone reads "true", <c>--name=VALUE</c> gives one.</param>
public sealed record HostArgument(string Name, string Description, string? ValueName = null, string? Default = null, bool ValueOptional = false)
{
    /// <summary>A flag needs no value: <c>--name</c> alone means true.</summary>
    public bool IsFlag => ValueName is null || ValueOptional;

    /// <summary>How --help shows it: --name, --name=VALUE or --name[=VALUE].</summary>
    public string Usage => ValueName is null ? "--" + Name : ValueOptional ? $"--{Name}[={ValueName}]" : $"--{Name}={ValueName}";
}
