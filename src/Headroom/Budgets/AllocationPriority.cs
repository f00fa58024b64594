namespace Headroom;

/// <summary>
/// How deep into the budget's emergency reserve (the <see cref="MemoryBudget.MinWatermark"/> watermark) a charge may dip
/// once the fast path has failed (semantics §2).
/// </summary>
public enum AllocationPriority
{
    /// <summary>Ordinary: the slow path stops at <see cref="MemoryBudget.MinWatermark"/> free bytes.</summary>
    Normal = 0,

    /// <summary>
    /// Urgent (Linux <c>__GFP_HIGH</c>): the slow path may use half of the min reserve, or 62.5 % of it when the
    /// charge cannot block (<see cref="AllocationMode.NoWait"/>, Linux <c>GFP_ATOMIC</c>).
    /// </summary>
    High = 1,
}
