namespace Headroom;

/// <summary>
/// How a charge ended without throwing: granted (both null), refused by a level (nothing changed), or parked in a
/// wait queue. The entry points turn it into a bool, an exception or a task, so the refusal path never throws inside.
/// </summary>
internal readonly record struct ChargeOutcome(MemoryBudget? RefusedBy, Task? Wait)
{
    /// <summary>For the blocking entry points: throw the refusal, or block until the wait ends.</summary>
    internal void Complete(MemoryBudget budget, long bytes, AllocationMode mode, string? site)
    {
        if (RefusedBy is { } refusedBy)
        {
            throw budget.Refusal(bytes, mode, site, refusedBy);
        }

#pragma warning disable RS0030 // the blocking entry points block by contract; the wait is a waiter's completion, which needs no thread to finish
        Wait?.GetAwaiter().GetResult();
#pragma warning restore RS0030
    }

    /// <summary>For the asynchronous entry points: a completed task when granted, without allocating.</summary>
    internal ValueTask AsValueTask(MemoryBudget budget, long bytes, AllocationMode mode, string? site) =>
        RefusedBy is { } refusedBy ? ValueTask.FromException(budget.Refusal(bytes, mode, site, refusedBy))
        : Wait is { } wait ? new ValueTask(wait)
        : default;
}
