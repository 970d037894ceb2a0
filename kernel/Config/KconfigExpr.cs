using System.Text;

namespace Kiln.Kernel.Config;

/// <summary>Kconfig's three-valued logic: n &lt; m &lt; y.</summary>
public enum Tristate { N = 0, M = 1, Y = 2 }

/// <summary>
/// A Kconfig expression (<c>depends on</c>, <c>if</c>, <c>select … if</c>). It evaluates against a .config
/// the way kconfig does and prints in kconfig's own style, optionally with values: <c>VIRTIO_MENU [=y] &amp;&amp; PCI [=n]</c>.
/// </summary>
public abstract record KconfigExpr
{
    /// <summary>Binding strength, used to print only the parentheses that are needed.</summary>
    internal abstract int Precedence { get; }

    public abstract Tristate Evaluate(KernelConfig config);

    /// <summary>Kconfig text; with a config, each symbol is followed by its value as menuconfig shows it.</summary>
    public string Display(KernelConfig? config = null)
    {
        var text = new StringBuilder();
        Write(text, config);
        return text.ToString();
    }

    internal abstract void Write(StringBuilder text, KernelConfig? config);

    /// <summary>The symbols the expression reads, in order of appearance, without duplicates.</summary>
    public IEnumerable<string> Symbols() => Walk().OfType<KconfigSymbolRef>().Select(s => s.Name).Distinct();

    protected virtual IEnumerable<KconfigExpr> Children => Array.Empty<KconfigExpr>();

    private IEnumerable<KconfigExpr> Walk() => new[] { this }.Concat(Children.SelectMany(c => c.Walk()));

    public sealed override string ToString() => Display();

    /// <summary>Splits a chain of <c>&amp;&amp;</c> into its operands, so a report can show only the ones that fail.</summary>
    public IEnumerable<KconfigExpr> Conjuncts() =>
        this is KconfigAnd and ? and.Left.Conjuncts().Concat(and.Right.Conjuncts()) : new[] { this };

    public static KconfigExpr? AndAll(IEnumerable<KconfigExpr> operands) =>
        operands.Aggregate((KconfigExpr?)null, (all, next) => all is null ? next : new KconfigAnd(all, next));

    protected void WriteChild(StringBuilder text, KconfigExpr child, KernelConfig? config)
    {
        var parenthesize = child.Precedence < Precedence;
        if (parenthesize) text.Append('(');
        child.Write(text, config);
        if (parenthesize) text.Append(')');
    }

    /// <summary>The value compared by <c>=</c>, <c>!=</c>, <c>&lt;</c>…: a symbol's value (unset reads as n) or a constant's text.</summary>
    internal abstract string StringValue(KernelConfig config);

    internal static Tristate FromValue(string? value) => value switch { "y" => Tristate.Y, "m" => Tristate.M, _ => Tristate.N };
}

/// <summary>A reference to a config symbol.</summary>
public sealed record KconfigSymbolRef(string Name) : KconfigExpr
{
    internal override int Precedence => 5;

    public override Tristate Evaluate(KernelConfig config) => FromValue(config.Get(Name));

    internal override string StringValue(KernelConfig config) => ConfigValues.Unquote(ConfigValues.NormalizeUnset(config.Get(Name)));

    internal override void Write(StringBuilder text, KernelConfig? config)
    {
        text.Append(Name);
        if (config is not null) text.Append(" [=").Append(StringValue(config)).Append(']');
    }
}

/// <summary>A constant: <c>y</c>, <c>m</c>, <c>n</c>, a number or a quoted string.</summary>
public sealed record KconfigConstant(string Text) : KconfigExpr
{
    internal override int Precedence => 5;

    /// <summary>As in kconfig, the constant m counts as n while loadable modules (MODULES) are off.</summary>
    public override Tristate Evaluate(KernelConfig config) => Text switch
    {
        "y" => Tristate.Y,
        "m" => config.Get("MODULES") == "y" ? Tristate.M : Tristate.N,
        _ => Tristate.N,
    };

    internal override string StringValue(KernelConfig config) => ConfigValues.Unquote(Text);

    internal override void Write(StringBuilder text, KernelConfig? config) => text.Append(Text);
}

/// <summary>
/// A preprocessor call such as <c>$(cc-option,-march=z10)</c>. Its result depends on the toolchain,
/// which Kiln does not re-run, so it counts as satisfied; kconfig's verdict is in the .config anyway.
/// </summary>
public sealed record KconfigMacro(string Text) : KconfigExpr
{
    internal override int Precedence => 5;
    public override Tristate Evaluate(KernelConfig config) => Tristate.Y;
    internal override string StringValue(KernelConfig config) => Text;
    internal override void Write(StringBuilder text, KernelConfig? config) => text.Append(Text);
}

public sealed record KconfigNot(KconfigExpr Operand) : KconfigExpr
{
    internal override int Precedence => 4;
    protected override IEnumerable<KconfigExpr> Children => new[] { Operand };
    public override Tristate Evaluate(KernelConfig config) => Tristate.Y - (int)Operand.Evaluate(config);
    internal override string StringValue(KernelConfig config) => Evaluate(config).ToString().ToLowerInvariant();

    internal override void Write(StringBuilder text, KernelConfig? config)
    {
        text.Append('!');
        WriteChild(text, Operand, config);
    }
}

public sealed record KconfigAnd(KconfigExpr Left, KconfigExpr Right) : KconfigExpr
{
    internal override int Precedence => 2;
    protected override IEnumerable<KconfigExpr> Children => new[] { Left, Right };

    public override Tristate Evaluate(KernelConfig config)
    {
        var left = Left.Evaluate(config);
        var right = Right.Evaluate(config);
        return left < right ? left : right;
    }

    internal override string StringValue(KernelConfig config) => Evaluate(config).ToString().ToLowerInvariant();

    internal override void Write(StringBuilder text, KernelConfig? config)
    {
        WriteChild(text, Left, config);
        text.Append(" && ");
        WriteChild(text, Right, config);
    }
}

public sealed record KconfigOr(KconfigExpr Left, KconfigExpr Right) : KconfigExpr
{
    internal override int Precedence => 1;
    protected override IEnumerable<KconfigExpr> Children => new[] { Left, Right };

    public override Tristate Evaluate(KernelConfig config)
    {
        var left = Left.Evaluate(config);
        var right = Right.Evaluate(config);
        return left > right ? left : right;
    }

    internal override string StringValue(KernelConfig config) => Evaluate(config).ToString().ToLowerInvariant();

    internal override void Write(StringBuilder text, KernelConfig? config)
    {
        WriteChild(text, Left, config);
        text.Append(" || ");
        WriteChild(text, Right, config);
    }
}

/// <summary><c>A = B</c>, <c>A != B</c>, <c>A &lt; B</c> and friends; numbers compare by value, anything else as text.</summary>
public sealed record KconfigComparison(string Operator, KconfigExpr Left, KconfigExpr Right) : KconfigExpr
{
    internal override int Precedence => 3;
    protected override IEnumerable<KconfigExpr> Children => new[] { Left, Right };

    public override Tristate Evaluate(KernelConfig config)
    {
        var left = Left.StringValue(config);
        var right = Right.StringValue(config);
        var order = ConfigValues.TryParseNumber(left, out var a) && ConfigValues.TryParseNumber(right, out var b)
            ? a.CompareTo(b)
            : string.CompareOrdinal(left, right);
        var holds = Operator switch
        {
            "=" => order == 0,
            "!=" => order != 0,
            "<" => order < 0,
            "<=" => order <= 0,
            ">" => order > 0,
            ">=" => order >= 0,
            _ => throw new InvalidOperationException("Unknown comparison " + Operator),
        };
        return holds ? Tristate.Y : Tristate.N;
    }

    internal override string StringValue(KernelConfig config) => Evaluate(config).ToString().ToLowerInvariant();

    internal override void Write(StringBuilder text, KernelConfig? config)
    {
        WriteChild(text, Left, config);
        text.Append(' ').Append(Operator).Append(' ');
        WriteChild(text, Right, config);
    }
}
