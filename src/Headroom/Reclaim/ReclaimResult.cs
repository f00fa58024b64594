namespace Headroom;

/// <summary>What one call of <see cref="IMemoryReclaimer.Reclaim"/> did.</summary>
/// <param name="Freed">The bytes the reclaimer says it uncharged; checked against what it really uncharged.</param>
/// <param name="Stopped">True when it cannot make progress safely in this context (Linux's <c>SHRINK_STOP</c>).</param>
public readonly record struct ReclaimResult(long Freed, bool Stopped = false)
{
    /// <summary>Gets the answer "cannot make progress safely in this context": reclaim skips the reclaimer for the rest of the pass.</summary>
    public static ReclaimResult Stop => new(0, Stopped: true);
}
