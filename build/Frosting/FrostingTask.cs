using Cake.Core;

namespace Cake.Frosting;

/// <summary>What the host needs of a task without knowing its context type.</summary>
public interface IFrostingTask
{
    void Run(ICakeContext context);
    bool ShouldRun(ICakeContext context);
    void OnError(Exception exception, ICakeContext context);
    void Finally(ICakeContext context);
}

/// <summary>A task that runs against a typed context, as in Cake.Frosting.</summary>
public abstract class FrostingTask<T> : IFrostingTask where T : ICakeContext
{
    public virtual void Run(T context)
    {
    }

    public virtual bool ShouldRun(T context) => true;

    public virtual void OnError(Exception exception, T context)
    {
    }

    public virtual void Finally(T context)
    {
    }

    void IFrostingTask.Run(ICakeContext context) => Run((T)context);
    bool IFrostingTask.ShouldRun(ICakeContext context) => ShouldRun((T)context);
    void IFrostingTask.OnError(Exception exception, ICakeContext context) => OnError(exception, (T)context);
    void IFrostingTask.Finally(ICakeContext context) => Finally((T)context);
}

/// <summary>A task with no body that only groups its dependencies.</summary>
public abstract class FrostingTask : FrostingTask<ICakeContext>
{
}
