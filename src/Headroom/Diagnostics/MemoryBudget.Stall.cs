namespace Headroom;

/// <summary>The stall the canary reports, as a reading (semantics §3), for health checks.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>
    /// Gets how long the oldest stalled charge or reservation of this budget's subtree has waited so far: stalled as
    /// the canary counts it, having waited at least its canary interval (its site's, else
    /// <see cref="MemoryBudgetOptions.CanaryInterval"/>), measured on the tree's <see cref="MemoryBudgetOptions.TimeProvider"/>.
    /// </summary>
    /// <value>The longest such wait; <see langword="null"/> while no wait here has passed its interval (or the canary is off).</value>
    /// <remarks>Takes the tree's lock for a walk of the waiters: for health checks and diagnostics, not hot paths.</remarks>
    public TimeSpan? OldestStall => Tree.Canary.OldestStall(this);
}
