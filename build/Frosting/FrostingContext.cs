using Cake.Core;

namespace Cake.Frosting;

/// <summary>Base class of a typed build context, as in Cake.Frosting.</summary>
public class FrostingContext : CakeContextAdapter
{
    public FrostingContext(ICakeContext context) : base(context)
    {
    }
}
