using System.Security.Cryptography;
using System.Text;
using Kiln.Kernel.Config;

namespace Kiln.Kernel.ConfigSearch;

/// <summary>One option whose value differs between two configs (n for an option that is off or absent).</summary>
public sealed record OptionChange(string Symbol, string From, string To)
{
    public override string ToString() => $"{ConfigValues.Prefix}{Symbol} {From} → {To}";
}

/// <summary>
/// A whole kernel config as the searches handle it: every option's value as .config writes it, an absent option
/// reading as n. Options that are off stay listed as n: make olddefconfig gives an option missing from .config its
/// Kconfig default, so turning one off must say so. Immutable: each search step makes a new one.
/// </summary>
public sealed class OptionSet
{
    private readonly SortedDictionary<string, string> _values;

    public OptionSet(IEnumerable<KeyValuePair<string, string>> values)
    {
        _values = new SortedDictionary<string, string>(values.ToDictionary(v => v.Key, v => v.Value), StringComparer.Ordinal);
    }

    public static OptionSet From(KernelConfig config) => new(config.Values);

    /// <summary>Every option the config names, with its value (n for off).</summary>
    public IReadOnlyDictionary<string, string> Values => _values;

    public string Get(string symbol) => _values.GetValueOrDefault(symbol) ?? "n";

    public bool IsEnabled(string symbol) => Get(symbol) is "y" or "m";

    /// <summary>The options that are y or m, by name.</summary>
    public IReadOnlyList<string> Enabled => _values.Where(v => v.Value is "y" or "m").Select(v => v.Key).ToList();

    /// <summary>The options whose values differ from <paramref name="other"/>'s, by name, as this → other.</summary>
    public IReadOnlyList<OptionChange> ChangesTo(OptionSet other) =>
        _values.Keys.Union(other._values.Keys).Order(StringComparer.Ordinal)
            .Where(s => !ConfigValues.Equivalent(Get(s), other.Get(s)))
            .Select(s => new OptionChange(s, Get(s), other.Get(s)))
            .ToList();

    public bool SameAs(OptionSet other) => ChangesTo(other).Count == 0;

    /// <summary>This config with <paramref name="symbols"/> taking <paramref name="source"/>'s values.</summary>
    public OptionSet With(IEnumerable<string> symbols, OptionSet source)
    {
        var values = new Dictionary<string, string>(_values, StringComparer.Ordinal);
        foreach (var symbol in symbols) values[symbol] = source.Get(symbol);
        return new OptionSet(values);
    }

    /// <summary>This config with <paramref name="symbols"/> off.</summary>
    public OptionSet Without(IEnumerable<string> symbols)
    {
        var values = new Dictionary<string, string>(_values, StringComparer.Ordinal);
        foreach (var symbol in symbols) values[symbol] = "n";
        return new OptionSet(values);
    }

    /// <summary>The .config text make olddefconfig reads: CONFIG_X=value, and "# CONFIG_X is not set" for what is off.</summary>
    public string Render()
    {
        var text = new StringBuilder();
        foreach (var (symbol, value) in _values) text.Append(ConfigValues.Format(symbol, value)).Append('\n');
        return text.ToString();
    }

    /// <summary>A short hash of the values: names a config in logs and keys a search's state.</summary>
    public string Hash => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Render())))[..16];
}
