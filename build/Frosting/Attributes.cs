namespace Cake.Frosting;

// The attributes of Cake.Frosting's public API, so tasks written here compile unchanged against the real package.

/// <summary>Names a task; the name is what --target takes.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class TaskNameAttribute : Attribute
{
    public TaskNameAttribute(string name) => Name = name;
    public string Name { get; }
}

/// <summary>Declares a task that must run before this one.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class IsDependentOnAttribute : Attribute
{
    public IsDependentOnAttribute(Type task) => Task = task;
    public Type Task { get; }
}

/// <summary>One line shown by --help for the task.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class TaskDescriptionAttribute : Attribute
{
    public TaskDescriptionAttribute(string description) => Description = description;
    public string Description { get; }
}
