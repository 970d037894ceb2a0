using System.Text.RegularExpressions;
using Kiln.Kernel.Diagnostics;

namespace Kiln.Kernel.Config;

/// <summary>
/// Reads Kconfig files line by line. It understands the entries and attributes that matter for
/// explaining a configuration (types, prompts, dependencies, selects, block structure) and skips
/// the rest (defaults, ranges, help text), which keeps a whole tree at well under a second.
/// </summary>
internal sealed partial class KconfigReader
{
    private enum BlockKind { If, Menu, Choice }

    private sealed class Block(BlockKind kind, SourceLocation location, KconfigChoice? choice, KconfigMenu menu)
    {
        public BlockKind Kind { get; } = kind;
        public SourceLocation Location { get; } = location;
        public KconfigChoice? Choice { get; } = choice;
        public KconfigMenu Menu { get; } = menu;
        public List<KconfigCondition> Conditions { get; } = new();
        public List<KconfigExpr> Visibility { get; } = new();
    }

    private readonly string _sourceDir;
    private readonly IReadOnlyDictionary<string, string> _variables;
    private readonly List<Block> _blocks = new();
    // The entry that attribute lines (depends on, select, …) belong to; null after blocks and sources.
    private KconfigDefinition? _currentDefinition;
    private Block? _currentBlock;
    // After a comment or mainmenu: their attributes (depends on, help) carry nothing Kiln needs.
    private bool _ignoreAttributes;
    private int _menuCount;

    public KconfigReader(string sourceDir, IReadOnlyDictionary<string, string> variables)
    {
        _sourceDir = sourceDir;
        _variables = variables;
    }

    public Dictionary<string, KconfigSymbol> Symbols { get; } = new(StringComparer.Ordinal);
    public int FileCount { get; private set; }

    [GeneratedRegex(@"^[A-Za-z0-9_-]+\s*(:=|\+=|=)")]
    private static partial Regex VariableAssignmentRegex();

    [GeneratedRegex(@"\$\(([A-Za-z0-9_]+)\)")]
    private static partial Regex VariableReferenceRegex();

    public void ReadFile(string relativePath, SourceLocation? includedFrom)
    {
        var path = Path.Combine(_sourceDir, relativePath);
        if (!File.Exists(path))
            throw KilnException.BadInput(includedFrom is { } from
                ? $"{from}: sourced Kconfig file {relativePath} does not exist in {_sourceDir}."
                : $"Kconfig file {path} does not exist.");
        FileCount++;
        var lines = File.ReadAllText(path).Split('\n');
        var blockDepth = _blocks.Count;
        for (var i = 0; i < lines.Length; i++)
        {
            var location = new SourceLocation(relativePath, i + 1);
            var line = lines[i].TrimEnd('\r');
            while (line.EndsWith('\\') && i + 1 < lines.Length) line = line[..^1] + lines[++i].TrimEnd('\r');
            var text = line.Trim();
            if (text.Length == 0 || text[0] == '#') continue;
            var split = text.IndexOfAny(new[] { ' ', '\t' });
            var keyword = split < 0 ? text : text[..split];
            var rest = split < 0 ? "" : text[(split + 1)..].Trim();
            if (keyword is "help" or "---help---")
            {
                i = SkipHelp(lines, i);
                continue;
            }
            try
            {
                ReadLine(keyword, rest, text, location);
            }
            catch (KconfigSyntaxException e)
            {
                throw KilnException.BadInput($"{location}: cannot read Kconfig line '{text}': {e.Message}.");
            }
        }
        if (_blocks.Count != blockDepth)
            throw KilnException.BadInput($"{relativePath}: '{_blocks[^1].Kind.ToString().ToLowerInvariant()}' opened at {_blocks[^1].Location} is not closed in the same file.");
    }

    public void EnsureBlocksClosed()
    {
        if (_blocks.Count > 0) throw KilnException.BadInput($"{_blocks[^1].Location}: block is never closed.");
    }

    private void ReadLine(string keyword, string rest, string text, SourceLocation location)
    {
        switch (keyword)
        {
            case "config" or "menuconfig":
                StartDefinition(rest, location, keyword == "menuconfig");
                return;
            case "menu":
                StartBlock(BlockKind.Menu, location, null, ReadQuoted(rest));
                return;
            case "choice":
                var choice = new KconfigChoice(location);
                StartBlock(BlockKind.Choice, location, choice);
                return;
            case "if":
                var tokens = new KconfigTokens(rest);
                var condition = tokens.ParseExpression();
                tokens.ExpectEnd();
                var block = StartBlock(BlockKind.If, location, null, MenuConfigTitle(condition));
                block.Conditions.Add(new KconfigCondition(KconfigConditionKind.If, condition, location));
                _currentBlock = null;
                return;
            case "endmenu":
                EndBlock(BlockKind.Menu);
                return;
            case "endchoice":
                EndBlock(BlockKind.Choice);
                return;
            case "endif":
                EndBlock(BlockKind.If);
                return;
            case "comment" or "mainmenu":
                ClearCurrent();
                _ignoreAttributes = true;
                return;
            case "source":
                ClearCurrent();
                ReadFile(ExpandVariables(ReadQuoted(rest), location), location);
                return;
        }

        if (_currentDefinition is { } definition) ReadDefinitionAttribute(definition, keyword, rest, location);
        else if (_currentBlock is { } current) ReadBlockAttribute(current, keyword, rest, location);
        else if (!_ignoreAttributes && !VariableAssignmentRegex().IsMatch(text) && !text.StartsWith("$(") && !IsIgnoredAttribute(keyword))
            throw new KconfigSyntaxException($"unknown keyword '{keyword}'");
    }

    /// <summary>menuconfig shows the entries of an <c>if X</c> block under X when X is a menuconfig entry.</summary>
    private string? MenuConfigTitle(KconfigExpr condition) =>
        condition is KconfigSymbolRef reference && Symbols.TryGetValue(reference.Name, out var symbol)
            ? symbol.Definitions.Where(d => d.IsMenuConfig).SelectMany(d => d.Prompts).Select(p => p.Text).FirstOrDefault()
            : null;

    private void StartDefinition(string rest, SourceLocation location, bool isMenuConfig)
    {
        var tokens = new KconfigTokens(rest);
        var name = tokens.Next().Text;
        tokens.ExpectEnd();
        if (!ConfigValues.IsValidSymbol(name)) throw new KconfigSyntaxException($"invalid symbol name '{name}'");
        // Members of a choice are the entries directly inside it; a menu in between starts a new scope.
        var choice = _blocks.LastOrDefault(b => b.Kind != BlockKind.If)?.Choice;
        var definition = new KconfigDefinition(name, location,
            _blocks.SelectMany(b => b.Conditions).ToList(),
            _blocks.SelectMany(b => b.Visibility).ToList(),
            choice, _blocks.LastOrDefault()?.Menu, isMenuConfig);
        GetSymbol(name).DefinitionList.Add(definition);
        choice?.MemberList.Add(name);
        ClearCurrent();
        _currentDefinition = definition;
    }

    private Block StartBlock(BlockKind kind, SourceLocation location, KconfigChoice? choice, string? title = null)
    {
        var block = new Block(kind, location, choice, new KconfigMenu(_blocks.LastOrDefault()?.Menu, _menuCount++, title));
        _blocks.Add(block);
        ClearCurrent();
        _currentBlock = block;
        return block;
    }

    private void EndBlock(BlockKind kind)
    {
        if (_blocks.Count == 0 || _blocks[^1].Kind != kind)
            throw new KconfigSyntaxException($"'end{kind.ToString().ToLowerInvariant()}' without a matching '{kind.ToString().ToLowerInvariant()}'");
        _blocks.RemoveAt(_blocks.Count - 1);
        ClearCurrent();
    }

    private void ClearCurrent()
    {
        _currentDefinition = null;
        _currentBlock = null;
        _ignoreAttributes = false;
    }

    private void ReadDefinitionAttribute(KconfigDefinition definition, string keyword, string rest, SourceLocation location)
    {
        var tokens = new KconfigTokens(rest);
        switch (keyword)
        {
            case "bool" or "tristate" or "string" or "int" or "hex":
                definition.Type = ParseType(keyword);
                if (!tokens.AtEnd) ReadPrompt(definition, tokens);
                return;
            case "def_bool" or "def_tristate":
                definition.Type = keyword == "def_bool" ? KconfigType.Bool : KconfigType.Tristate;
                return;
            case "prompt":
                ReadPrompt(definition, tokens);
                return;
            case "depends":
                definition.DependsOnList.Add(new KconfigCondition(KconfigConditionKind.DependsOn, ReadDependsOn(tokens), location));
                return;
            case "select" or "imply":
                var target = tokens.Next();
                if (target.Kind != KconfigTokenKind.Word) throw new KconfigSyntaxException($"expected a symbol after '{keyword}'");
                var reverse = new KconfigReverseDependency(definition.Symbol, tokens.ParseOptionalIf(), location);
                var symbol = GetSymbol(target.Text);
                (keyword == "select" ? symbol.SelectedByList : symbol.ImpliedByList).Add(reverse);
                return;
        }
        if (!IsIgnoredAttribute(keyword)) throw new KconfigSyntaxException($"unknown attribute '{keyword}'");
    }

    private void ReadBlockAttribute(Block block, string keyword, string rest, SourceLocation location)
    {
        var tokens = new KconfigTokens(rest);
        switch (keyword)
        {
            case "depends":
                var kind = block.Kind == BlockKind.Menu ? KconfigConditionKind.Menu : KconfigConditionKind.Choice;
                block.Conditions.Add(new KconfigCondition(kind, ReadDependsOn(tokens), location));
                return;
            case "visible":
                if (!tokens.Next().IsWord("if")) throw new KconfigSyntaxException("expected 'visible if'");
                block.Visibility.Add(tokens.ParseExpression());
                tokens.ExpectEnd();
                return;
            case "prompt" when block.Choice is { } choice:
                choice.Prompt = block.Menu.Title = ConfigValues.Unquote(tokens.Next().Text);
                return;
            case "bool" or "tristate" when block.Choice is { } choice && !tokens.AtEnd:
                choice.Prompt = block.Menu.Title = ConfigValues.Unquote(tokens.Next().Text);
                return;
        }
        if (!IsIgnoredAttribute(keyword) && keyword is not ("bool" or "tristate"))
            throw new KconfigSyntaxException($"unknown attribute '{keyword}'");
    }

    /// <summary>Attributes that do not affect whether a requested value can hold, so the index skips them.</summary>
    private static bool IsIgnoredAttribute(string keyword) =>
        keyword is "default" or "range" or "option" or "modules" or "optional" or "transitional" or "def_bool" or "def_tristate";

    private static KconfigExpr ReadDependsOn(KconfigTokens tokens)
    {
        if (!tokens.Next().IsWord("on")) throw new KconfigSyntaxException("expected 'depends on'");
        var expression = tokens.ParseExpression();
        tokens.ExpectEnd();
        return expression;
    }

    private static void ReadPrompt(KconfigDefinition definition, KconfigTokens tokens)
    {
        var text = tokens.Next();
        if (text.Kind != KconfigTokenKind.String) throw new KconfigSyntaxException("expected a quoted prompt");
        definition.PromptList.Add(new KconfigPrompt(ConfigValues.Unquote(text.Text), tokens.ParseOptionalIf()));
    }

    private static KconfigType ParseType(string keyword) => keyword switch
    {
        "bool" => KconfigType.Bool,
        "tristate" => KconfigType.Tristate,
        "string" => KconfigType.String,
        "int" => KconfigType.Int,
        _ => KconfigType.Hex,
    };

    private KconfigSymbol GetSymbol(string name)
    {
        if (!Symbols.TryGetValue(name, out var symbol)) Symbols[name] = symbol = new KconfigSymbol(name);
        return symbol;
    }

    private static string ReadQuoted(string rest)
    {
        var tokens = new KconfigTokens(rest);
        var token = tokens.Next();
        tokens.ExpectEnd();
        return token.Kind == KconfigTokenKind.String ? ConfigValues.Unquote(token.Text) : token.Text;
    }

    private string ExpandVariables(string path, SourceLocation location)
    {
        var expanded = VariableReferenceRegex().Replace(path, m =>
            _variables.TryGetValue(m.Groups[1].Value, out var value)
                ? value
                : throw KilnException.BadInput($"{location}: Kconfig variable $({m.Groups[1].Value}) in '{path}' is not known to Kiln."));
        return expanded;
    }

    /// <summary>
    /// The help text of the entry at <paramref name="entry"/> (the index skips help text to stay fast, so it is read
    /// when asked for), as paragraphs' lines without their indentation; empty when the entry has none.
    /// </summary>
    public static IReadOnlyList<string> HelpText(string sourceDir, SourceLocation entry)
    {
        var path = Path.Combine(sourceDir, entry.File);
        if (!File.Exists(path)) return [];
        var lines = File.ReadAllLines(path);
        for (var i = entry.Line; i < lines.Length; i++)
        {
            var keyword = lines[i].Trim().Split(' ', '\t')[0];
            if (keyword is "help" or "---help---")
                return lines[(i + 1)..(SkipHelp(lines, i) + 1)].Select(l => l.Trim()).SkipWhile(l => l.Length == 0).Reverse()
                    .SkipWhile(l => l.Length == 0).Reverse().ToList();
            if (keyword is "config" or "menuconfig" or "choice" or "endchoice" or "menu" or "endmenu" or "if" or "endif" or "source" or "comment") break;
        }
        return [];
    }

    /// <summary>Help text runs until the first non-blank line indented less than its own first line.</summary>
    private static int SkipHelp(string[] lines, int helpLine)
    {
        var indent = -1;
        var i = helpLine + 1;
        for (; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            var width = IndentWidth(line);
            if (indent < 0) indent = width;
            else if (width < indent) break;
            if (width == 0) break;
        }
        return i - 1;
    }

    private static int IndentWidth(string line)
    {
        var width = 0;
        foreach (var c in line)
        {
            if (c == ' ') width++;
            else if (c == '\t') width = (width / 8 + 1) * 8;
            else break;
        }
        return width;
    }
}
