namespace Kiln.Kernel.Config;

/// <summary>
/// Checks that every requested option holds in a final .config and, for each one that does not,
/// works out why from the Kconfig index: unknown symbol, unmet dependency, no prompt, or another value.
/// </summary>
public sealed class ConfigVerifier
{
    private const int MaxListed = 8;
    private readonly KconfigIndex _index;
    private readonly AllowList _allowList;

    public ConfigVerifier(KconfigIndex index, AllowList? allowList = null)
    {
        _index = index;
        _allowList = allowList ?? AllowList.Empty;
    }

    /// <summary>
    /// Checks each request the way merge_config.sh does: it holds when the lines naming it in the merged fragments
    /// (<paramref name="merged"/>, what merge_config.sh wrote) are exactly the lines naming it in the final .config.
    /// So a request whose value holds but is written otherwise (<c>CONFIG_X=n</c>, a comment naming the option, an
    /// option kconfig leaves out of .config) drops, as it does for Kata's build-kernel.sh, with the reason said.
    /// </summary>
    public ConfigVerification Verify(IReadOnlyList<RequestedOption> requested, KernelConfig config, KernelConfig merged)
    {
        var byName = requested.ToDictionary(r => r.Symbol);
        var dropped = new List<DroppedOption>();
        foreach (var request in requested)
        {
            if (merged.LinesNaming(request.Symbol) == config.LinesNaming(request.Symbol)) continue;
            var final = config.Get(request.Symbol);
            var (reason, why, details) = new Explanation(this, request, config, merged, byName).Explain();
            var state = final is null ? "not in .config"
                : ConfigValues.Equivalent(request.Value, final) ? "merge_config.sh counts it as not in final, though the value holds"
                : final == "n" ? "not set" : $"set to {final}";
            dropped.Add(new DroppedOption(request, final, reason,
                $"{request.Display} requested in {request.Origin} but {state}: {why}", details,
                _allowList.TryGetReason(request.Symbol, out var allowed) ? allowed : null));
        }
        return new ConfigVerification(requested, dropped, _allowList.Warnings, config.Path, _allowList.Path);
    }

    /// <summary>
    /// What the Kconfig files say of one option, with the values <paramref name="config"/> gives the symbols it names:
    /// its type and prompt, each definition (file:line) with its dependencies, and what selects or implies it.
    /// </summary>
    public IReadOnlyList<string> Describe(string symbol, KernelConfig config)
    {
        if (_index.Find(symbol) is not { } found)
            return [$"{ConfigValues.Prefix}{symbol} is not defined in any Kconfig file of this kernel for this architecture{SuggestionSuffix(symbol)}"];
        var request = new RequestedOption(symbol, ConfigValues.NormalizeUnset(config.Get(symbol)), found.Definitions[0].Location);
        return new Explanation(this, request, config, config, new Dictionary<string, RequestedOption>()).Describe(found);
    }

    private string SuggestionSuffix(string symbol)
    {
        var suggestions = _index.Suggest(symbol);
        return suggestions.Count == 0 ? "" : $" (did you mean {string.Join(" or ", suggestions.Select(s => ConfigValues.Prefix + s))}?)";
    }

    /// <summary>The reasoning for one dropped option; a class so the helpers share the request and config.</summary>
    private sealed class Explanation(ConfigVerifier verifier, RequestedOption request, KernelConfig config, KernelConfig merged,
        IReadOnlyDictionary<string, RequestedOption> requested)
    {
        private readonly List<string> _details = new();

        public (DropReason, string, IReadOnlyList<string>) Explain()
        {
            var (reason, why) = Analyze();
            return (reason, why, _details);
        }

        private (DropReason, string) Analyze()
        {
            if (verifier._index.Find(request.Symbol) is not { } symbol)
                return (DropReason.UnknownSymbol, "not defined in any Kconfig file of this kernel for this architecture" +
                                                  verifier.SuggestionSuffix(request.Symbol));
            if (ConfigValues.Equivalent(request.Value, config.Get(symbol.Name))) return ExplainWrittenOtherwise(symbol);
            if (request.Value == "n") return ExplainForcedOn(symbol);
            if (request.Value == "m" && symbol.Type == KconfigType.Bool)
                return (DropReason.ValueDiffers, $"{ConfigValues.Prefix}{symbol.Name} is a bool option, it cannot be m");
            if (request.Value == "m" && config.Get("MODULES") != "y")
            {
                Hint("MODULES");
                return (DropReason.ValueDiffers, "m needs loadable module support: MODULES [=" + ConfigValues.NormalizeUnset(config.Get("MODULES")) + "]");
            }
            if (ExplainDependencies(symbol) is { } unmet) return (DropReason.UnmetDependency, unmet);
            if (!HasVisiblePrompt(symbol)) return (DropReason.NoPrompt, ExplainNoPrompt(symbol));
            if (ExplainChoice(symbol) is { } choice) return (DropReason.ValueDiffers, choice);
            DescribeDefinitions(symbol);
            return (DropReason.ValueDiffers, $"its dependencies hold, but kconfig chose {ConfigValues.NormalizeUnset(config.Get(symbol.Name))}" +
                                             (symbol.Type is KconfigType.Int or KconfigType.Hex ? " (is the value outside the option's range?)" : ""));
        }

        public IReadOnlyList<string> Describe(KconfigSymbol symbol)
        {
            var prompt = symbol.Definitions.SelectMany(d => d.Prompts).Select(p => p.Text).FirstOrDefault();
            _details.Add($"{ConfigValues.Prefix}{symbol.Name}: {symbol.Type.ToString().ToLowerInvariant()}" + (prompt is null ? ", no prompt" : $" \"{prompt}\""));
            DescribeDefinitions(symbol);
            DescribeSelectors(symbol.SelectedBy, "selected by");
            DescribeSelectors(symbol.ImpliedBy, "implied by");
            return _details;
        }

        /// <summary>
        /// The value holds but the lines differ, which merge_config.sh (and so Kata) counts as not in final: kconfig
        /// writes no line for an option whose dependencies are off, writes n as "is not set", and the fragments'
        /// comments that name the option are compared too.
        /// </summary>
        private (DropReason, string) ExplainWrittenOtherwise(KconfigSymbol symbol)
        {
            var wanted = merged.LinesNaming(symbol.Name);
            var actual = config.LinesNaming(symbol.Name);
            _details.Add($"merge_config.sh compares the lines naming {ConfigValues.Prefix}{symbol.Name}: requested '{wanted.Replace("\n", "' + '")}', " +
                         (actual.Length == 0 ? "the final .config has none" : $"the final .config has '{actual}'"));
            if (config.Get(symbol.Name) is null)
            {
                // Only the reason: the blockers' hints ("request X=y as well") would undo an off request.
                var kept = _details.Count;
                var dependency = ExplainDependencies(symbol, Tristate.M);
                _details.RemoveRange(kept, _details.Count - kept);
                DescribeDefinitions(symbol);
                return (DropReason.UnmetDependency, "it is off, but kconfig writes no line for it because it " +
                                                    (dependency ?? "is not visible") +
                                                    "; merge_config.sh counts a missing line as not in final, so drop the request or allow it");
            }
            var requestLines = wanted.Split('\n');
            if (requestLines.Length > 1)
                return (DropReason.WrittenOtherwise, $"the fragments also name {ConfigValues.Prefix}{symbol.Name} in " +
                                                     string.Join(", ", requestLines.Where(l => l != ConfigValues.Format(symbol.Name, request.Value) && l != request.Display).Select(l => $"'{l}'")) +
                                                     ", and merge_config.sh compares those lines too: reword the comment");
            if (request.Value == "n")
                return (DropReason.WrittenOtherwise, $".config writes n as '{ConfigValues.Format(symbol.Name, "n")}': write that in the fragment");
            return (DropReason.WrittenOtherwise, $"the value is the same but written differently ('{requestLines[0]}' against '{actual}'): write it as .config does");
        }

        /// <summary>The value a dependency must reach: y for y (and for non-tristate values), m for m.</summary>
        private Tristate Needed => request.Value == "m" ? Tristate.M : Tristate.Y;

        private string? ExplainDependencies(KconfigSymbol symbol, Tristate? neededOverride = null)
        {
            var best = symbol.Definitions.Max(d => d.Dependency?.Evaluate(config) ?? Tristate.Y);
            var needed = neededOverride ?? (symbol.Type is KconfigType.Bool or KconfigType.Tristate ? Needed : Tristate.M);
            if (best >= needed) return null;

            string? summary = null;
            foreach (var definition in symbol.Definitions)
            {
                var failing = definition.Conditions
                    .SelectMany(c => c.Expression.Conjuncts().Select(e => (Condition: c, Expression: e)))
                    .Where(f => f.Expression.Evaluate(config) < needed)
                    .ToList();
                if (failing.Count == 0) continue;
                summary ??= "depends on " + KconfigExpr.AndAll(failing.Select(f => f.Expression))!.Display(config) +
                            (best == Tristate.M ? ", which limits it to m" : "");
                _details.Add($"{definition.Location}: depends on {definition.Dependency!.Display(config)}");
                foreach (var (condition, expression) in failing.Where(f => f.Condition.Kind != KconfigConditionKind.DependsOn))
                    _details.Add($"{expression.Display(config)}: {condition.Describe()}");
                foreach (var (blocker, wantOn) in Blockers(failing.Select(f => f.Expression)))
                    Hint(blocker, wantOn);
            }
            return summary;
        }

        /// <summary>
        /// Symbols whose values make the failing conditions fail, and whether they would have to be on
        /// (a plain reference) or off (under '!').
        /// </summary>
        private IEnumerable<(string Symbol, bool WantOn)> Blockers(IEnumerable<KconfigExpr> failing)
        {
            var found = new List<(string, bool)>();
            foreach (var expression in failing) Collect(expression, wantOn: true, found);
            return found.Distinct();
        }

        private void Collect(KconfigExpr expression, bool wantOn, List<(string, bool)> found)
        {
            switch (expression)
            {
                case KconfigSymbolRef symbol:
                    if (Holds(symbol) != wantOn) found.Add((symbol.Name, wantOn));
                    break;
                case KconfigNot not:
                    Collect(not.Operand, !wantOn, found);
                    break;
                case KconfigAnd and:
                    CollectOperands(and.Left, and.Right, wantOn, found);
                    break;
                case KconfigOr or:
                    CollectOperands(or.Left, or.Right, wantOn, found);
                    break;
                case KconfigComparison comparison:
                    found.AddRange(comparison.Symbols().Select(s => (s, wantOn)));
                    break;
            }
        }

        /// <summary>Only operands on the wrong side matter: the failing ones under a failing &amp;&amp;, all of them under a failing ||.</summary>
        private void CollectOperands(KconfigExpr left, KconfigExpr right, bool wantOn, List<(string, bool)> found)
        {
            if (Holds(left) != wantOn) Collect(left, wantOn, found);
            if (Holds(right) != wantOn) Collect(right, wantOn, found);
        }

        private bool Holds(KconfigExpr expression) => expression.Evaluate(config) >= Needed;

        /// <summary>Says what to do about a symbol that blocks the request: request it too, or look at why it dropped as well.</summary>
        private void Hint(string blocker, bool wantOn = true)
        {
            var value = ConfigValues.NormalizeUnset(config.Get(blocker));
            if (verifier._index.Find(blocker) is null)
                _details.Add($"{blocker} [={value}] is not defined for this architecture, so this cannot be met here");
            else if (requested.TryGetValue(blocker, out var other))
                _details.Add($"{blocker} [={value}]: {other.Display} is requested in {other.Origin}" +
                             (ConfigValues.Equivalent(other.Value, config.Get(blocker)) ? "" : " but did not hold either (see its entry)"));
            else if (wantOn)
                _details.Add($"{blocker} [={value}] is {(value == "m" ? "only m" : "off")}: request {ConfigValues.Prefix}{blocker}=y as well");
            else
                _details.Add($"{blocker} [={value}] is on and must be off: request {ConfigValues.Format(blocker, "n")} or change what sets it");
        }

        private bool HasVisiblePrompt(KconfigSymbol symbol) =>
            symbol.Definitions.Any(d =>
                d.Prompts.Any(p => (p.Condition?.Evaluate(config) ?? Tristate.Y) > Tristate.N) &&
                d.Visibility.All(v => v.Evaluate(config) > Tristate.N));

        private string ExplainNoPrompt(KconfigSymbol symbol)
        {
            DescribeSelectors(symbol.SelectedBy, "selected by");
            DescribeSelectors(symbol.ImpliedBy, "implied by");
            if (!symbol.HasPrompt)
                return "it has no prompt, so only a 'select' from another option (or its default) can set it";
            var conditions = symbol.Definitions
                .SelectMany(d => d.Prompts.Where(p => p.Condition is not null).Select(p => p.Condition!.Display(config))
                    .Concat(d.Visibility.Select(v => "menu visible if " + v.Display(config))))
                .Distinct();
            return "its prompt is hidden (" + string.Join("; ", conditions) + "), so only a 'select' (or its default) can set it";
        }

        private void DescribeSelectors(IReadOnlyList<KconfigReverseDependency> selectors, string relation)
        {
            if (selectors.Count == 0)
            {
                if (relation == "selected by") _details.Add("nothing selects it");
                return;
            }
            var listed = selectors.Take(MaxListed)
                .Select(s => $"{s.Symbol} [={ConfigValues.NormalizeUnset(config.Get(s.Symbol))}]" +
                             (s.Condition is null ? "" : " if " + s.Condition.Display(config)));
            _details.Add($"{relation}: {string.Join(", ", listed)}" +
                         (selectors.Count > MaxListed ? $" and {selectors.Count - MaxListed} more" : ""));
        }

        private string? ExplainChoice(KconfigSymbol symbol)
        {
            var choice = symbol.Definitions.Select(d => d.Choice).FirstOrDefault(c => c is not null);
            if (choice is null) return null;
            var chosen = choice.Members.Where(m => m != symbol.Name && config.Get(m) == "y").Distinct().ToList();
            if (chosen.Count == 0) return null;
            foreach (var member in chosen.Where(requested.ContainsKey))
                _details.Add($"{requested[member].Display} in {requested[member].Origin} picks the other member");
            return $"it is a member of the choice at {choice.Location}" +
                   (choice.Prompt is null ? "" : $" ({choice.Prompt})") +
                   $" and {string.Join(", ", chosen.Select(c => c + " [=y]"))} is chosen instead";
        }

        private (DropReason, string) ExplainForcedOn(KconfigSymbol symbol)
        {
            var active = symbol.SelectedBy
                .Where(s => config.IsEnabled(s.Symbol) && (s.Condition?.Evaluate(config) ?? Tristate.Y) > Tristate.N)
                .ToList();
            if (active.Count > 0)
            {
                foreach (var selector in active.Where(s => requested.ContainsKey(s.Symbol)))
                    _details.Add($"{requested[selector.Symbol].Display} is requested in {requested[selector.Symbol].Origin}");
                return (DropReason.ValueDiffers, "a select overrides the request: selected by " +
                                                 string.Join(", ", active.Select(s => $"{s.Symbol} [={config.Get(s.Symbol)}] ({s.Location})")));
            }
            if (!HasVisiblePrompt(symbol))
            {
                DescribeDefinitions(symbol);
                return (DropReason.NoPrompt, "it has no visible prompt, so its default decides and cannot be turned off");
            }
            if (symbol.Definitions.Select(d => d.Choice).FirstOrDefault(c => c is not null) is { } choice)
                return (DropReason.ValueDiffers, $"it is the chosen member of the choice at {choice.Location}, which needs one; request another member =y instead");
            DescribeDefinitions(symbol);
            return (DropReason.ValueDiffers, $"kconfig kept it at {config.Get(symbol.Name)}");
        }

        private void DescribeDefinitions(KconfigSymbol symbol)
        {
            foreach (var definition in symbol.Definitions)
                _details.Add($"defined at {definition.Location}" +
                             (definition.Dependency is { } dependency ? $": depends on {dependency.Display(config)}" : ""));
        }
    }
}
