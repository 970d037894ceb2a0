namespace Kiln.Kernel.Config;

public enum KconfigType { Unknown, Bool, Tristate, String, Int, Hex }

/// <summary>Where a condition on a symbol comes from.</summary>
public enum KconfigConditionKind
{
    /// <summary>The entry's own <c>depends on</c> line.</summary>
    DependsOn,
    /// <summary>An enclosing <c>if … endif</c> block.</summary>
    If,
    /// <summary>An enclosing <c>menu</c>'s <c>depends on</c>.</summary>
    Menu,
    /// <summary>An enclosing <c>choice</c>'s <c>depends on</c>.</summary>
    Choice,
}

/// <summary>One condition a definition depends on, with the line that imposes it.</summary>
public sealed record KconfigCondition(KconfigConditionKind Kind, KconfigExpr Expression, SourceLocation Location)
{
    public string Describe() => Kind switch
    {
        KconfigConditionKind.DependsOn => $"depends on ({Location})",
        KconfigConditionKind.If => $"inside 'if' at {Location}",
        KconfigConditionKind.Menu => $"inside a menu that depends on it at {Location}",
        _ => $"inside a choice that depends on it at {Location}",
    };
}

/// <summary>A prompt line; without a visible prompt a user cannot set the symbol, only a <c>select</c> can.</summary>
public sealed record KconfigPrompt(string Text, KconfigExpr? Condition);

/// <summary>A <c>select</c> or <c>imply</c> pointing at a symbol: <see cref="Symbol"/> is the one that selects.</summary>
public sealed record KconfigReverseDependency(string Symbol, KconfigExpr? Condition, SourceLocation Location);

/// <summary>A <c>choice … endchoice</c> group: at most one member (exactly one unless optional) is y.</summary>
public sealed class KconfigChoice
{
    internal KconfigChoice(SourceLocation location) => Location = location;

    public SourceLocation Location { get; }
    public string? Prompt { get; internal set; }
    internal List<string> MemberList { get; } = new();
    public IReadOnlyList<string> Members => MemberList;
}

/// <summary>
/// Where an entry sits in menuconfig's tree: a <c>menu</c>, a <c>choice</c>, or an <c>if</c> block on a
/// <c>menuconfig</c> symbol (whose entries menuconfig shows under it). Untitled blocks have a null <see cref="Title"/>.
/// </summary>
public sealed class KconfigMenu
{
    internal KconfigMenu(KconfigMenu? parent, int order, string? title)
    {
        Parent = parent;
        Order = order;
        Title = title;
    }

    public KconfigMenu? Parent { get; }
    /// <summary>Reading order, so menus list as menuconfig shows them.</summary>
    public int Order { get; }
    public string? Title { get; internal set; }

    /// <summary>The titled menus from the top down to this one, e.g. <c>Device Drivers &gt; Virtio drivers</c>.</summary>
    public IReadOnlyList<KconfigMenu> Path
    {
        get
        {
            var path = new List<KconfigMenu>();
            for (var menu = this; menu is not null; menu = menu.Parent)
                if (menu.Title is not null) path.Insert(0, menu);
            return path;
        }
    }
}

/// <summary>One <c>config</c>/<c>menuconfig</c> entry; a symbol may be defined in several places.</summary>
public sealed class KconfigDefinition
{
    internal KconfigDefinition(string symbol, SourceLocation location, IReadOnlyList<KconfigCondition> enclosing,
        IReadOnlyList<KconfigExpr> visibility, KconfigChoice? choice, KconfigMenu? menu, bool isMenuConfig)
    {
        Symbol = symbol;
        Menu = menu;
        IsMenuConfig = isMenuConfig;
        Location = location;
        Enclosing = enclosing;
        Visibility = visibility;
        Choice = choice;
    }

    public string Symbol { get; }
    public SourceLocation Location { get; }
    public KconfigType Type { get; internal set; }
    internal List<KconfigPrompt> PromptList { get; } = new();
    public IReadOnlyList<KconfigPrompt> Prompts => PromptList;
    internal List<KconfigCondition> DependsOnList { get; } = new();
    /// <summary>The entry's own <c>depends on</c> lines.</summary>
    public IReadOnlyList<KconfigCondition> DependsOn => DependsOnList;
    /// <summary>Conditions of the enclosing <c>if</c>, <c>menu</c> and <c>choice</c> blocks, outermost first.</summary>
    public IReadOnlyList<KconfigCondition> Enclosing { get; }
    /// <summary><c>visible if</c> conditions of enclosing menus: they hide prompts without touching dependencies.</summary>
    public IReadOnlyList<KconfigExpr> Visibility { get; }
    public KconfigChoice? Choice { get; }
    /// <summary>The innermost block around the entry, or null at the top level.</summary>
    public KconfigMenu? Menu { get; }
    public bool IsMenuConfig { get; }

    /// <summary>Everything this definition depends on, in the order menuconfig prints it.</summary>
    public IEnumerable<KconfigCondition> Conditions => Enclosing.Concat(DependsOn);

    /// <summary>The combined dependency (<c>A &amp;&amp; B &amp;&amp; …</c>), or null when there is none.</summary>
    public KconfigExpr? Dependency => KconfigExpr.AndAll(Conditions.Select(c => c.Expression));
}

/// <summary>Everything the Kconfig files say about one symbol.</summary>
public sealed class KconfigSymbol
{
    internal KconfigSymbol(string name) => Name = name;

    public string Name { get; }
    internal List<KconfigDefinition> DefinitionList { get; } = new();
    public IReadOnlyList<KconfigDefinition> Definitions => DefinitionList;
    internal List<KconfigReverseDependency> SelectedByList { get; } = new();
    public IReadOnlyList<KconfigReverseDependency> SelectedBy => SelectedByList;
    internal List<KconfigReverseDependency> ImpliedByList { get; } = new();
    public IReadOnlyList<KconfigReverseDependency> ImpliedBy => ImpliedByList;

    /// <summary>Whether a <c>config</c> entry defines it (a symbol can be only referenced, e.g. selected but never defined).</summary>
    public bool IsDefined => DefinitionList.Count > 0;

    public KconfigType Type => DefinitionList.Select(d => d.Type).FirstOrDefault(t => t != KconfigType.Unknown);

    public bool HasPrompt => DefinitionList.Any(d => d.Prompts.Count > 0);
}
