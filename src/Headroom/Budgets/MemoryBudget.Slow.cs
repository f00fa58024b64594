using Headroom.Accounting;
using Headroom.Diagnostics;
using Headroom.Reclaim;
using Headroom.Waiting;

namespace Headroom;

/// <summary>
/// The slow path of a charge the fast path refused (semantics §2, §3): the stocks drained, the site's policy, background
/// reclaim woken, direct reclaim by mode, then a refusal or, for NoFail, the OOM killer and the wait.
/// </summary>
public sealed partial class MemoryBudget
{
    /// <summary>What the slow path does for this charge: the site's policy, the mode it makes effective, and the floor; a NoFail charge that could never be granted is refused here.</summary>
    private (SitePolicy? Policy, AllocationMode Effective, Floor Floor) SlowPlan(long bytes, AllocationMode mode, AllocationPriority priority, string? site)
    {
        SitePolicy? policy = Tree.SitePolicy(site);
        AllocationMode effective = policy?.Apply(mode) ?? mode;
        Floor floor = SlowFloor(effective, priority);
        if (effective == AllocationMode.NoFail)
        {
            CheckGrantable(bytes, floor);
        }

        return (policy, effective, floor);
    }

    /// <summary>
    /// The slow path after the fast path refused: granted, refused, or (NoFail) the wait. A site's policy changes what
    /// the charge does; the mode it reports stays the caller's.
    /// </summary>
    internal ChargeOutcome ChargeSlow(long bytes, AllocationMode mode, AllocationPriority priority, string? site, MemoryBudget refusedBy, CancellationToken cancellationToken)
    {
        MemoryBudget? drainedRefusal = refusedBy;
        using Stocks.StockSuspension stocks = SuspendStocks(bytes, Floor.Low, Ticket.Arrival, ref drainedRefusal); // until it decides (semantics §1)
        if (drainedRefusal is null)
        {
            return default;
        }

        (SitePolicy? policy, AllocationMode effective, Floor floor) = SlowPlan(bytes, mode, priority, site);
        MemoryBudget? refused = ChargeWithoutWaiting(bytes, effective, floor, refusedBy, policy?.MaxRetries ?? MaxReclaimRetries, cancellationToken);
        return AfterDirectReclaim(bytes, mode, effective, floor, policy, site, refused, cancellationToken);
    }

    /// <summary>The slow path once direct reclaim is done (<paramref name="refused"/> null: granted): refused, or for NoFail the OOM killer and the wait.</summary>
    private ChargeOutcome AfterDirectReclaim(long bytes, AllocationMode mode, AllocationMode effective, Floor floor, SitePolicy? policy, string? site, MemoryBudget? refused, CancellationToken cancellationToken)
    {
        if (refused is null)
        {
            return default;
        }

        if (effective != AllocationMode.NoFail)
        {
            ObserveRefusal(mode);
            return new ChargeOutcome(refused, null);
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (policy?.MaxWait is { } maxWait)
        {
            return new ChargeOutcome(null, WaitAtMost(maxWait, bytes, floor, mode, site, cancellationToken)); // may fail: no OOM kill for it
        }

        // NoFail after the OOM killer ran may use half the min reserve (ALLOC_OOM).
        return KillOrWait(bytes, refused, floor, Floor.HalfMin, mode, site, admits: null, cancellationToken) is { } wait ? new ChargeOutcome(null, wait) : default;
    }

    /// <summary>The exception for a charge that was refused by <paramref name="refusedBy"/>.</summary>
    internal MemoryAllocationException Refusal(long bytes, AllocationMode mode, string? site, MemoryBudget refusedBy)
    {
        MemoryBudgetSnapshot here = GetSnapshot(); // each reading may walk the live reservations: once per level
        return new(bytes, mode, site, here, refusedBy == this ? here : refusedBy.GetSnapshot());
    }

    /// <summary>
    /// Semantics §2 and §3 short of waiting: wake background reclaim, retry at the slow-path floor, then run the
    /// mode's direct reclaim. Returns null when granted, else the level that refused last.
    /// </summary>
    internal MemoryBudget? ChargeWithoutWaiting(long bytes, AllocationMode mode, Floor floor, MemoryBudget refusedBy, int maxPassesWithoutProgress, CancellationToken cancellationToken)
    {
        IReclaimDriver reclaim = Tree.Reclaim;
        var passes = new DirectReclaim(this, bytes, mode, floor, refusedBy, maxPassesWithoutProgress);
        bool stalled = false; // a memory stall for pressure while it reclaims (psi_memstall_enter)
        try
        {
            while (passes.NextPass(reclaim, cancellationToken, out long target))
            {
                stalled = stalled || BeginReclaimStall();
                passes.AfterPass(reclaim.ReclaimDirect(passes.Refused!, target, cancellationToken), cancellationToken);
            }
        }
        finally
        {
            if (stalled)
            {
                DirectReclaimEnds();
            }
        }

        return passes.Refused;
    }

    internal static Floor SlowFloor(AllocationMode mode, AllocationPriority priority) => priority == AllocationPriority.Normal
        ? Floor.Min
        : mode == AllocationMode.NoWait ? Floor.Atomic : Floor.HalfMin;
}
