namespace Kiln.Build.Hosting;

/// <summary>
/// An argument the build accepts, for --help and for rejecting misspelled arguments.
/// (Kiln's addition to the Frosting API: real Cake.Frosting accepts any argument silently.)
/// </summary>
public sealed record HostArgument(string Name, string Description, string? ValueName = null, string? Default = null)
{
    /// <summary>A flag takes no value: <c>--name</c> alone means true.</summary>
    public bool IsFlag => ValueName is null;
}
