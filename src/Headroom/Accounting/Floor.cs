namespace Headroom.Accounting;

/// <summary>
/// How much free memory a charge must leave at each level of the tree (semantics §2): the row of the table
/// the caller falls in.
/// </summary>
internal enum Floor
{
    /// <summary>Ordinary fast path: leave <see cref="MemoryBudget.LowWatermark"/> free.</summary>
    Low,

    /// <summary>Ordinary slow path, after waking background reclaim: leave <see cref="MemoryBudget.MinWatermark"/> free.</summary>
    Min,

    /// <summary><see cref="AllocationPriority.High"/> that can block, an OOM victim, NoFail after an OOM kill: Min / 2.</summary>
    HalfMin,

    /// <summary><see cref="AllocationPriority.High"/> that cannot block (GFP_ATOMIC): Min × 3/8.</summary>
    Atomic,

    /// <summary>Reclaim context (PF_MEMALLOC): no floor at all.</summary>
    None,
}
