using System.Reflection;
using Cake.Core;
using Cake.Frosting;

namespace Kiln.Build.Hosting;

/// <summary>A task class read off its attributes.</summary>
public sealed class TaskDefinition
{
    private TaskDefinition(Type type, string name, string description, IReadOnlyList<string> dependencies)
    {
        Type = type;
        Name = name;
        Description = description;
        Dependencies = dependencies;
    }

    public Type Type { get; }
    public string Name { get; }
    public string Description { get; }
    public IReadOnlyList<string> Dependencies { get; }

    public static string NameOf(Type type) => type.GetCustomAttribute<TaskNameAttribute>()?.Name ?? type.Name;

    public static IReadOnlyList<TaskDefinition> Discover(IEnumerable<Assembly> assemblies) =>
        assemblies.SelectMany(a => a.GetTypes())
            .Where(t => t is { IsAbstract: false, IsClass: true } && typeof(IFrostingTask).IsAssignableFrom(t))
            .Select(t => new TaskDefinition(t, NameOf(t),
                t.GetCustomAttribute<TaskDescriptionAttribute>()?.Description ?? "",
                t.GetCustomAttributes<IsDependentOnAttribute>().Select(d => NameOf(d.Task)).ToList()))
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

    /// <summary>Adds the task to Cake's engine: dependencies, criteria, body, error and finally handlers.</summary>
    public void Register(ICakeEngine engine)
    {
        var instance = (IFrostingTask)Activator.CreateInstance(Type)!;
        var builder = engine.RegisterTask(Name).Description(Description);
        foreach (var dependency in Dependencies) builder.IsDependentOn(dependency);
        builder.WithCriteria(instance.ShouldRun)
            .Does(instance.Run)
            .OnError((exception, context) =>
            {
                instance.OnError(exception, context);
                // Cake swallows the exception once an error handler exists; keep it (and its exit code) going.
                throw exception;
            })
            .Finally(instance.Finally);
    }
}
