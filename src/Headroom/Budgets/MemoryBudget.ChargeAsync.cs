using Headroom.Accounting;
using Headroom.Waiting;
using Headroom.Reclaim;

namespace Headroom;

/// <summary>The asynchronous slow path (issue 10 item 4): direct reclaim awaited, the caller's token reaching the reclaimers.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>
    /// The most direct-reclaim passes one charge runs, progress or not: progress that other charges keep taking must not
    /// hold a caller in reclaim forever; past it the mode decides (refusal, or the killer and the wait for NoFail).
    /// </summary>
    internal const int MaxDirectReclaimPasses = 64;

    /// <summary>An ordinary <see cref="ChargeAsync"/> that may reclaim: the fast path, then the slow path with direct reclaim awaited.</summary>
    private ValueTask ChargeOrdinaryAsync(long bytes, AllocationMode mode, AllocationPriority priority, string? site, CancellationToken cancellationToken)
    {
        // Decided without yielding (no reclaimer awaited): the caller gets the waiter's own task, completed by its waker
        // within the release that grants it, exactly as on the synchronous path.
        return ChargeDecidedAsync(ChargeOrdinaryOutcomeAsync(bytes, mode, priority, site, cancellationToken), bytes, mode, site);
    }

    /// <summary>An asynchronous charge's task once its slow path decided: synchronous when it decided without yielding.</summary>
    private ValueTask ChargeDecidedAsync(ValueTask<ChargeOutcome> decided, long bytes, AllocationMode mode, string? site)
    {
#pragma warning disable RS0030 // read only once completed: nothing blocks
        return decided.IsCompletedSuccessfully ? decided.Result.AsValueTask(this, bytes, mode, site) : AwaitDecided(decided, bytes, mode, site);
#pragma warning restore RS0030
    }

    /// <summary>
    /// The asynchronous twin of <see cref="ChargeOrdinary"/>, for every asynchronous charge of ordinary memory (a
    /// reservation's excess included): what it decided, once direct reclaim was awaited; completed at once on the fast path.
    /// </summary>
    internal ValueTask<ChargeOutcome> ChargeOrdinaryOutcomeAsync(long bytes, AllocationMode mode, AllocationPriority priority, string? site, CancellationToken cancellationToken)
    {
        if (Stocks.Stock.TryCharge(this, bytes))
        {
            return default; // from this thread's stock (semantics §1)
        }

        MemoryBudget? refusedBy = Counter.TryCharge(bytes, Floor.Low, Ticket.Arrival, locked: false);
        return refusedBy is null ? default : ChargeSlowAsync(bytes, mode, priority, site, refusedBy, cancellationToken);
    }

    private async ValueTask AwaitDecided(ValueTask<ChargeOutcome> decided, long bytes, AllocationMode mode, string? site)
    {
        ChargeOutcome outcome = await decided.ConfigureAwait(false);
        await outcome.AsValueTask(this, bytes, mode, site).ConfigureAwait(false);
    }

    /// <summary>The asynchronous twin of <see cref="ChargeSlow"/>: what the slow path decided, once direct reclaim was awaited.</summary>
    private async ValueTask<ChargeOutcome> ChargeSlowAsync(long bytes, AllocationMode mode, AllocationPriority priority, string? site, MemoryBudget refusedBy, CancellationToken cancellationToken)
    {
        MemoryBudget? drainedRefusal = refusedBy;
        using (SuspendStocks(bytes, Floor.Low, Ticket.Arrival, ref drainedRefusal)) // until it decides (semantics §1); not bound to a thread
        {
            if (drainedRefusal is null)
            {
                return default;
            }

            (SitePolicy? policy, AllocationMode effective, Floor floor) = SlowPlan(bytes, mode, priority, site);
            MemoryBudget? refused = await ChargeWithoutWaitingAsync(bytes, effective, floor, refusedBy, policy?.MaxRetries ?? MaxReclaimRetries, cancellationToken).ConfigureAwait(false);
            return AfterDirectReclaim(bytes, mode, effective, floor, policy, site, refused, cancellationToken);
        }
    }

    /// <summary>The asynchronous twin of <see cref="ChargeWithoutWaiting"/>: each pass is awaited.</summary>
    private async ValueTask<MemoryBudget?> ChargeWithoutWaitingAsync(long bytes, AllocationMode mode, Floor floor, MemoryBudget refusedBy, int maxPassesWithoutProgress, CancellationToken cancellationToken)
    {
        IReclaimDriver reclaim = Tree.Reclaim;
        var passes = new DirectReclaim(this, bytes, mode, floor, refusedBy, maxPassesWithoutProgress);
        bool stalled = false; // a memory stall for pressure while it reclaims (psi_memstall_enter)
        try
        {
            while (passes.NextPass(reclaim, cancellationToken, out long target))
            {
                stalled = stalled || BeginReclaimStall();
                long freed = await reclaim.ReclaimDirectAsync(passes.Refused!, target, cancellationToken).ConfigureAwait(false);
                passes.AfterPass(freed, cancellationToken);
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
}
