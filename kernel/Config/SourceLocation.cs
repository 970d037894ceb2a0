namespace Kiln.Kernel.Config;

/// <summary>A line in a fragment or Kconfig file, printed as <c>file:line</c> like compilers do.</summary>
public readonly record struct SourceLocation(string File, int Line)
{
    public override string ToString() => $"{File}:{Line}";
}
