using Headroom.Accounting;
using Headroom.Waiting;

namespace Headroom;

/// <summary>
/// A NoFail charge or a reservation's admission out of memory (semantics §7): the killer, then the wait, and back to the
/// killer while it still waits, as Linux's allocator loops back to <c>out_of_memory()</c>.
/// </summary>
public sealed partial class MemoryBudget
{
    /// <summary>
    /// Reclaim found no progress for <paramref name="bytes"/> at <paramref name="refused"/>. Unless the request is refused
    /// only to keep its place in line, the killer takes a last look at <paramref name="floor"/> and may kill; after a kill
    /// the request tries once more at <paramref name="afterKill"/>. Returns null when granted, else the wait, which goes
    /// back to the killer whenever a victim has ended (released, or been given up on) or the waiter's turn came, and it
    /// still does not fit (<see cref="VisitKiller"/>): a request that needs two victims gets two, one after the other. The
    /// wait returned is the waiter's own completion, which a grant completes within the release that made room.
    /// </summary>
    private Task? KillOrWait(long bytes, MemoryBudget refused, Floor floor, Floor afterKill, AllocationMode mode, string? site, MemoryReservation? admits, CancellationToken cancellationToken)
    {
        Task victimEnded;
        if (refused.Counter.Fits(bytes, floor))
        {
            victimEnded = Tree.Oom.VictimEnded; // memory is not short for it, the line is: it waits its turn
        }
        else
        {
            switch (Tree.Oom.OutOfMemory(refused, bytes, () => Counter.TryCharge(bytes, floor, Ticket.Arrival, locked: false) is null, out victimEnded))
            {
                case OomOutcome.Granted:
                    return null;
                case OomOutcome.Killed when Counter.TryCharge(bytes, afterKill, Ticket.Arrival, locked: false) is null:
                    return null;
            }
        }

        Waiter waiter = Enqueue(bytes, floor, mode, site, admits, jump: false, backToKiller: true, cancellationToken);
        if (!waiter.Completion.Task.IsCompleted && victimEnded.IsCompleted)
        {
            waiter.Nudge(); // a victim ended between the killer's look and the queuing, before the tree's list held it
        }

        return waiter.Completion.Task;
    }

    /// <summary>
    /// A visit of a waiting <paramref name="waiter"/> to the killer, scheduled by its nudges (a victim ended, or its turn
    /// came): while it is still queued, the killer takes another look for it. The killer's last try is a grant in the
    /// waiter's place (<see cref="GrantInPlace"/>); it kills only when memory is short for it, never for a waiter that
    /// merely waits its turn. A kill's reaping lands as releases, which wake the queue, and so a new visit. Once the
    /// waiter left (granted, cancelled or failed) a visit does nothing: its completion says how. It never throws.
    /// </summary>
    /// <remarks>
    /// Who completes a waiter: whoever takes it out of its queue, under the tree's lock (a grant by a release or by this
    /// visit, a cancellation, a dispose); the others find <see cref="Waiter.QueuedAt"/> null and leave it alone. So each
    /// waiter is completed once, and a grant charges its bytes once, in the same locked region that dequeues it.
    /// </remarks>
    internal void VisitKiller(Waiter waiter)
    {
        do
        {
            waiter.BeginLook(); // before the look: a nudge during it asks for another
            if (QueuedLevel(waiter) is not { } level)
            {
                continue; // it left meanwhile
            }

            try
            {
                _ = Tree.Oom.OutOfMemory(level, waiter.Bytes, () => GrantInPlace(waiter), out _);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Diagnostics.Log.KillFailed(Tree.Logger, e, "(a waiter back at the killer)"); // nobody awaits this visit
            }
        }
        while (!waiter.EndLook());
    }

    /// <summary>Where the waiter queues now; null once it left.</summary>
    private MemoryBudget? QueuedLevel(Waiter waiter)
    {
        lock (Tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Tree.Sync);
            return waiter.QueuedAt;
        }
    }

    /// <summary>
    /// The killer's last try for a queued waiter, in its place in line: true when nobody need be killed for it, because
    /// it left, or is granted now, or is refused only to keep the line's order; false when memory is short for it.
    /// </summary>
    private bool GrantInPlace(Waiter waiter)
    {
        lock (Tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Tree.Sync);
            if (waiter.QueuedAt is not { } level)
            {
                return true;
            }

            // Still refused where it waits (the usual answer): decided without a trial charge, which others could see.
            MemoryBudget? refusedBy = waiter.Budget.WouldRefuse(waiter) == level ? level : waiter.Budget.TryGrant(waiter);
            if (refusedBy == level)
            {
                return level.Counter.Fits(waiter.Bytes, waiter.Floor);
            }

            level.Queue.Remove(waiter);
            if (refusedBy is null || BudgetTree.QueueAt(waiter, refusedBy))
            {
                Tree.Leave(waiter);
                waiter.Complete();
                Tree.Oom.GrantedInPlace();
            }
            else
            {
                waiter.Nudge(); // it fits here now but waits at another level: it asks again for that one
            }

            // It left this level's queue: those behind it may fit too, and nobody else may look (the release that made
            // room may have looked before, when this waiter still held them back). Coyote found the head behind it
            // waiting for a background reclaim nobody asked for, before AfterLeaving woke one.
            Tree.AfterLeaving(level);

            return true;
        }
    }
}
