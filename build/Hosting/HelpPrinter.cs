using Spectre.Console;

namespace Kiln.Build.Hosting;

/// <summary>--help: the targets with their descriptions and dependencies, then every argument.</summary>
internal static class HelpPrinter
{
    public static void Print(IAnsiConsole console, string description, IReadOnlyList<TaskDefinition> tasks,
        IReadOnlyList<HostArgument> arguments, string defaultTarget, string? restArgument = null)
    {
        if (description.Length > 0) console.WriteLine(description);
        console.WriteLine();
        console.MarkupLine("[bold]Usage:[/] ./build.sh --target=<TARGET> [[--name=value ...]]" +
                           (restArgument is null ? "" : $" [[-- COMMAND [[ARG ...]]]]   (the same as --{restArgument}='COMMAND ARG ...')"));
        console.WriteLine();

        var targets = new Table().Border(TableBorder.None).AddColumn("[bold]Targets[/]").AddColumn("").AddColumn("[grey]runs after[/]");
        foreach (var t in tasks)
        {
            var name = t.Name == defaultTarget ? t.Name + " (default)" : t.Name;
            targets.AddRow(Markup.Escape(name), Markup.Escape(t.Description), Markup.Escape(string.Join(", ", t.Dependencies)));
        }
        console.Write(targets);
        console.WriteLine();

        var table = new Table().Border(TableBorder.None).AddColumn("[bold]Arguments[/]").AddColumn("").AddColumn("[grey]default[/]");
        foreach (var a in arguments.Concat(CommandLine.HostOptions))
        {
            table.AddRow(Markup.Escape(a.Usage), Markup.Escape(a.Description), Markup.Escape(a.Default ?? ""));
        }
        console.Write(table);
    }
}
