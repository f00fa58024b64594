using Headroom.Accounting;
using Headroom.Waiting;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Headroom.Stocks;

namespace Headroom;

/// <summary>Per-thread stocks (semantics §1): what the rest of the budget asks of them.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>
    /// Gets the bytes that per-thread stocks hold at this budget or below: added to <see cref="Committed"/> but not yet
    /// handed out. Budgets below 1 MiB have no stocks; at most capacity/16 is stocked at any level.
    /// </summary>
    /// <remarks>Read from other threads' stocks without stopping them: exact when they are quiet, else it may lag.</remarks>
    public long Stocked => Tree.Stocks.Within(this);

    /// <summary>Gives every stock of the tree back to Committed (tests; disposal). Never under the tree's lock.</summary>
    internal void DrainStocks()
    {
        Debug.Assert(LockOrder.NotHeld(Tree.Sync), "a drain returns bytes, which wakes waiters under the tree's lock");
        Tree.Stocks.Drain();
    }

    /// <summary>
    /// Before the first refusal, wait, reclaim pass or OOM decision of a slow path: closes stocking in the tree and
    /// drains every stock, then tries the fast path again if that freed anything (<paramref name="refusedBy"/> becomes
    /// null when granted). The caller holds the suspension until it has its outcome.
    /// </summary>
    private StockSuspension SuspendStocks(long bytes, Floor floor, long ticket, ref MemoryBudget? refusedBy)
    {
        Debug.Assert(LockOrder.NotHeld(Tree.Sync), "never drain under the tree's lock");
        StockSuspension suspension = Tree.Stocks.Suspend();
        if (suspension.Drained)
        {
            refusedBy = Counter.TryCharge(bytes, floor, ticket, locked: false);
        }

        return suspension;
    }

    /// <summary>A stock's refill: every level charged at the fast-path floor, behind every waiter; no waking (the owner is in its section).</summary>
    internal MemoryBudget? TryPrecharge(long bytes) => Counter.TryCharge(bytes, Floor.Low, Ticket.Arrival, locked: true);

    /// <summary>After a refill refused by an ancestor: wakes whoever the undone partial charge refused meanwhile.</summary>
    internal void WakeBelow(MemoryBudget refusedBy)
    {
        for (MemoryBudget? level = this; level is not null && level != refusedBy; level = level.Parent)
        {
            if (level.Queue.Count != 0)
            {
                WakeWaiters();
                return;
            }
        }
    }


    /// <summary>
    /// An uncharge that would exceed Used once the stocks are counted out (Committed counts them): drain them, so that
    /// the exact check after this sees Committed without them. An uncharge above Used by no more than what other
    /// threads' stocks hold can still slip past between the drain and the check, or through a stock; it then shows
    /// when the stocks are drained (Committed below zero, logged and repaired).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void DrainIfUnchargeExceedsUsed(long bytes)
    {
        if (Tree.Stocks.Any && bytes > Committed - Stocked)
        {
            DrainStocks();
        }
    }
}
