namespace Headroom;

/// <summary>
/// A charge was not granted for lack of memory. Thrown only by modes that may fail
/// (<see cref="AllocationMode.NoWait"/>, <see cref="AllocationMode.MayFail"/>, <see cref="AllocationMode.RetryMayFail"/>);
/// <see cref="AllocationMode.NoFail"/> never throws it, unless an administrator bounded its site with a
/// <see cref="SitePolicy"/> (<see cref="SitePolicy.MaxRetries"/> or <see cref="SitePolicy.MaxWait"/>). When it is thrown,
/// no counter has changed.
/// </summary>
public sealed class MemoryAllocationException : Exception
{
    /// <summary>Creates the exception for a refused charge.</summary>
    /// <param name="bytes">The size that was asked for.</param>
    /// <param name="mode">The caller's mode.</param>
    /// <param name="site">The caller's site name, if it gave one.</param>
    /// <param name="budget">The counters of the budget that was charged, as they were when the charge was refused.</param>
    /// <param name="refusedBy">The counters of the budget in the tree that had no room: the charged budget or an ancestor.</param>
    public MemoryAllocationException(long bytes, AllocationMode mode, string? site, MemoryBudgetSnapshot budget, MemoryBudgetSnapshot refusedBy)
        : base(Describe(bytes, mode, site, budget, refusedBy))
    {
        Bytes = bytes;
        Mode = mode;
        Site = site;
        Budget = budget;
        RefusedBy = refusedBy;
    }

    /// <summary>Gets the size that was asked for, in bytes.</summary>
    public long Bytes { get; }

    /// <summary>Gets the caller's allocation mode.</summary>
    public AllocationMode Mode { get; }

    /// <summary>Gets the caller's site name, or <see langword="null"/>.</summary>
    public string? Site { get; }

    /// <summary>Gets the counters of the charged budget when the charge was refused.</summary>
    public MemoryBudgetSnapshot Budget { get; }

    /// <summary>Gets the counters of the budget that had no room (the charged budget itself or one of its ancestors).</summary>
    public MemoryBudgetSnapshot RefusedBy { get; }

    private static string Describe(long bytes, AllocationMode mode, string? site, MemoryBudgetSnapshot budget, MemoryBudgetSnapshot refusedBy)
    {
        string where = site is null ? string.Empty : $" at site '{site}'";
        string level = refusedBy.Name == budget.Name ? string.Empty : $" Refused by ancestor [{refusedBy}].";
        return $"A {mode} charge of {bytes} bytes{where} was not granted by budget [{budget}].{level}";
    }
}
