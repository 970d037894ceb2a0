using System.Globalization;
using System.Text.RegularExpressions;

namespace Kiln.Kernel.Config;

/// <summary>
/// Option values as written in .config files and fragments: <c>y</c>, <c>m</c>, <c>n</c>,
/// a quoted string, a decimal or a 0x-hex number. Values are kept as written (strings keep their quotes).
/// </summary>
public static partial class ConfigValues
{
    public const string Prefix = "CONFIG_";

    [GeneratedRegex(@"^(?:[ymn]|-?[0-9]+|0[xX][0-9a-fA-F]+|""(?:[^""\\]|\\.)*"")$")]
    private static partial Regex ValueRegex();

    [GeneratedRegex("^[A-Za-z0-9_]+$")]
    private static partial Regex SymbolRegex();

    public static bool IsValidValue(string value) => ValueRegex().IsMatch(value);

    public static bool IsValidSymbol(string symbol) => SymbolRegex().IsMatch(symbol);

    /// <summary>Whether two values mean the same thing; numbers compare by value so 0x10 equals 0X10 and 16.</summary>
    public static bool Equivalent(string? a, string? b)
    {
        a = NormalizeUnset(a);
        b = NormalizeUnset(b);
        if (a == b) return true;
        return TryParseNumber(a, out var x) && TryParseNumber(b, out var y) && x == y;
    }

    /// <summary>A missing option and <c>n</c> are the same for bool and tristate options.</summary>
    public static string NormalizeUnset(string? value) => value ?? "n";

    /// <summary>The value as Kconfig shows it: strings without quotes and escapes.</summary>
    public static string Unquote(string value)
    {
        if (value.Length < 2 || value[0] != '"' || value[^1] != '"') return value;
        // Kconfig strings know only two escapes, \" and \\.
        var result = new System.Text.StringBuilder(value.Length);
        for (var i = 1; i < value.Length - 1; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length - 1) i++;
            result.Append(value[i]);
        }
        return result.ToString();
    }

    public static bool TryParseNumber(string value, out long number)
    {
        if (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return long.TryParse(value.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out number);
        return long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number);
    }

    /// <summary>Formats an option the way fragments write it: <c>CONFIG_X=y</c> or <c># CONFIG_X is not set</c>.</summary>
    public static string Format(string symbol, string value) =>
        value == "n" ? $"# {Prefix}{symbol} is not set" : $"{Prefix}{symbol}={value}";
}
