namespace Headroom;

/// <summary>
/// What a charge does when the budget has no room for it (semantics §3).
/// </summary>
public enum AllocationMode
{
    /// <summary>
    /// Never blocks, runs no direct reclaim and fails at once (Linux <c>GFP_NOWAIT</c>).
    /// Background reclaim is still woken.
    /// </summary>
    NoWait = 0,

    /// <summary>
    /// Runs one direct reclaim pass, then fails (Linux <c>__GFP_NORETRY</c>). Never waits for others to free memory.
    /// </summary>
    MayFail = 1,

    /// <summary>
    /// Runs direct reclaim until 16 passes in a row make no progress, or at once when even freeing everything
    /// reclaimable could not satisfy it, then fails (Linux <c>__GFP_RETRY_MAYFAIL</c>). Never invokes the OOM killer.
    /// </summary>
    RetryMayFail = 2,

    /// <summary>
    /// Reclaims, then waits in the budget's FIFO queue until granted (Linux <c>__GFP_NOFAIL</c>).
    /// Never fails for lack of memory (unless a <see cref="SitePolicy"/> bounds its site); only cancellation or disposal
    /// of the budget ends the wait.
    /// </summary>
    NoFail = 3,
}
