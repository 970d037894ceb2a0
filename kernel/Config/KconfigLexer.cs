using System.Text;

namespace Kiln.Kernel.Config;

internal enum KconfigTokenKind { Word, String, Macro, Operator }

internal readonly record struct KconfigToken(KconfigTokenKind Kind, string Text)
{
    public bool IsWord(string word) => Kind == KconfigTokenKind.Word && Text == word;
    public bool IsOperator(string op) => Kind == KconfigTokenKind.Operator && Text == op;
}

/// <summary>Thrown for text the Kconfig reader cannot understand; the index adds file:line.</summary>
internal sealed class KconfigSyntaxException(string message) : Exception(message);

/// <summary>
/// The tokens of one Kconfig line after its keyword, with a cursor. Knows the expression grammar
/// (kconfig's precedence: <c>||</c> &lt; <c>&amp;&amp;</c> &lt; comparisons &lt; <c>!</c>).
/// </summary>
internal sealed class KconfigTokens
{
    private static readonly string[] Operators = { "&&", "||", "!=", "<=", ">=", "(", ")", "!", "=", "<", ">" };
    private readonly List<KconfigToken> _tokens;
    private int _position;

    public KconfigTokens(string text)
    {
        _tokens = Tokenize(text);
    }

    public bool AtEnd => _position >= _tokens.Count;

    public KconfigToken? Peek => AtEnd ? null : _tokens[_position];

    public KconfigToken Next() =>
        AtEnd ? throw new KconfigSyntaxException("unexpected end of line") : _tokens[_position++];

    /// <summary>Consumes an optional trailing <c>if EXPR</c> and returns the condition.</summary>
    public KconfigExpr? ParseOptionalIf()
    {
        if (AtEnd) return null;
        if (!Next().IsWord("if")) throw new KconfigSyntaxException("expected 'if' or end of line");
        var condition = ParseExpression();
        ExpectEnd();
        return condition;
    }

    public void ExpectEnd()
    {
        if (!AtEnd) throw new KconfigSyntaxException($"unexpected '{_tokens[_position].Text}'");
    }

    public KconfigExpr ParseExpression()
    {
        var left = ParseAnd();
        while (Peek is { } token && token.IsOperator("||"))
        {
            Next();
            left = new KconfigOr(left, ParseAnd());
        }
        return left;
    }

    private KconfigExpr ParseAnd()
    {
        var left = ParseUnary();
        while (Peek is { } token && token.IsOperator("&&"))
        {
            Next();
            left = new KconfigAnd(left, ParseUnary());
        }
        return left;
    }

    private KconfigExpr ParseUnary()
    {
        var token = Next();
        if (token.IsOperator("!")) return new KconfigNot(ParseUnary());
        if (token.IsOperator("("))
        {
            var inner = ParseExpression();
            if (!Next().IsOperator(")")) throw new KconfigSyntaxException("expected ')'");
            return inner;
        }
        var left = Atom(token);
        if (Peek is { Kind: KconfigTokenKind.Operator, Text: "=" or "!=" or "<" or "<=" or ">" or ">=" } op)
        {
            Next();
            return new KconfigComparison(op.Text, left, Atom(Next()));
        }
        return left;
    }

    private static KconfigExpr Atom(KconfigToken token) => token.Kind switch
    {
        KconfigTokenKind.String => new KconfigConstant(token.Text),
        KconfigTokenKind.Macro => new KconfigMacro(token.Text),
        KconfigTokenKind.Word when IsConstantWord(token.Text) => new KconfigConstant(token.Text),
        KconfigTokenKind.Word when token.Text != "if" => new KconfigSymbolRef(token.Text),
        _ => throw new KconfigSyntaxException($"unexpected '{token.Text}'"),
    };

    /// <summary>y/m/n and numbers are constants; any other word names a symbol (kconfig creates it if undefined).</summary>
    private static bool IsConstantWord(string word) =>
        word is "y" or "m" or "n" || ConfigValues.TryParseNumber(word, out _);

    private static List<KconfigToken> Tokenize(string text)
    {
        var tokens = new List<KconfigToken>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c == '#') break;
            if (c is '"' or '\'')
            {
                tokens.Add(new KconfigToken(KconfigTokenKind.String, ReadString(text, ref i)));
                continue;
            }
            if (c == '$' && i + 1 < text.Length && text[i + 1] == '(')
            {
                tokens.Add(new KconfigToken(KconfigTokenKind.Macro, ReadMacro(text, ref i)));
                continue;
            }
            var op = Operators.FirstOrDefault(o => string.CompareOrdinal(text, i, o, 0, o.Length) == 0);
            if (op is not null)
            {
                tokens.Add(new KconfigToken(KconfigTokenKind.Operator, op));
                i += op.Length;
                continue;
            }
            var start = i;
            while (i < text.Length && IsWordChar(text[i])) i++;
            if (i == start) throw new KconfigSyntaxException($"unexpected character '{c}'");
            tokens.Add(new KconfigToken(KconfigTokenKind.Word, text[start..i]));
        }
        return tokens;
    }

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '/' or '+' or ',';

    /// <summary>Reads a quoted string and returns it normalized to double quotes, the form .config files use.</summary>
    private static string ReadString(string text, ref int i)
    {
        var quote = text[i++];
        var value = new StringBuilder("\"");
        while (i < text.Length && text[i] != quote)
        {
            if (text[i] == '\\' && i + 1 < text.Length)
            {
                value.Append('\\').Append(text[i + 1]);
                i += 2;
                continue;
            }
            if (text[i] == '"') value.Append('\\');
            value.Append(text[i++]);
        }
        if (i >= text.Length) throw new KconfigSyntaxException("unterminated string");
        i++;
        return value.Append('"').ToString();
    }

    private static string ReadMacro(string text, ref int i)
    {
        var start = i;
        var depth = 0;
        for (; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')' && --depth == 0) return text[start..++i];
        }
        throw new KconfigSyntaxException("unterminated $(...)");
    }
}
