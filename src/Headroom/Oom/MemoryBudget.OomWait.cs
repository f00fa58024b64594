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
    /// still does not fit: a request that needs two victims gets two, one after the other. The wait returned is the
    /// waiter's own completion, which a grant completes within the release that made room.
    /// </summary>
    private Task? KillOrWait(long bytes, MemoryBudget refused, Floor floor, Floor afterKill, AllocationMode mode, string? site, MemoryReservation? admits, CancellationToken cancellationToken)
    {
        Task victimEnded;
        if (refused.RefusesOnlyForOrder(bytes, floor))
        {
            victimEnded = Tree.Oom.VictimEnded; // memory is not short for it, the line is: it waits its turn
        }
        else
        {
            switch (Tree.Oom.OutOfMemory(refused, bytes, () => TryChargePath(bytes, floor, Ticket.Arrival, locked: false) is null, out victimEnded))
            {
                case OomOutcome.Granted:
                    return null;
                case OomOutcome.Killed when TryChargePath(bytes, afterKill, Ticket.Arrival, locked: false) is null:
                    return null;
            }
        }

        Waiter waiter = Enqueue(bytes, floor, mode, site, admits, jump: false, cancellationToken);
        // Beside the wait, which stays the waiter's own (a grant completes it within the release). Only where the killer
        // can act: without consumers the loop could only grant in the waiter's place, which the releases already do, and
        // Coyote found a schedule in which that second granting path strands a waiter (issue 10's note). A waiter that
        // queued before the first consumer registered does not go back to the killer.
        if (!waiter.Completion.Task.IsCompleted && Tree.Oom.InPlay)
        {
            _ = BackToKillerAsync(waiter, victimEnded);
        }

        return waiter.Completion.Task;
    }

    /// <summary>
    /// While <paramref name="waiter"/> waits: each time it is woken without a grant (a victim ended, or its turn came)
    /// and is still queued, it asks the killer again. The killer's last try is a grant in the waiter's place; it kills
    /// only when memory is short for it, never for a waiter that merely waits its turn. Nothing wakes it once it has
    /// left the queue (granted, cancelled or failed): the loop then stays parked and is collected with the waiter, so no
    /// continuation of it runs after the wait is over. It never throws.
    /// </summary>
    /// <param name="waiter">The queued waiter.</param>
    /// <param name="victimEnded">From the killer's look before the waiter queued: an end between that look and the queuing is caught here.</param>
    private async Task BackToKillerAsync(Waiter waiter, Task victimEnded)
    {
        Task turn = waiter.NextTurn(); // armed before the check: an end from now on wakes it through the tree's list
        bool now = victimEnded.IsCompleted;
        while (true)
        {
            if (!now)
            {
                await turn.ConfigureAwait(false);
            }

            now = false;
            if (QueuedLevel(waiter) is not { } level)
            {
                return; // it left meanwhile: its completion says how
            }

            // The next turn is armed before the killer looks, so that a wake-up during its look is not lost. A kill's
            // reaping lands as releases, which wake the queue: here the waiter only waits for the next wake-up.
            turn = waiter.NextTurn();
            try
            {
                _ = Tree.Oom.OutOfMemory(level, waiter.Bytes, () => GrantInPlace(waiter), out _);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Diagnostics.Log.KillFailed(Tree.Logger, e, "(a waiter back at the killer)"); // nobody awaits this loop
            }
        }
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

            MemoryBudget? refusedBy = waiter.Budget.TryGrant(waiter);
            if (refusedBy == level)
            {
                return level.RefusesOnlyForOrder(waiter.Bytes, waiter.Floor);
            }

            level.Queue.Remove(waiter);
            if (refusedBy is null || BudgetTree.QueueAt(waiter, refusedBy))
            {
                Tree.Leave(waiter);
                waiter.Complete();
            }
            else
            {
                waiter.Nudge(); // it fits here now but waits at another level: it asks again for that one
            }

            // It left this level's queue: those behind it may fit too, and nobody else may look (the release that made
            // room may have looked before, when this waiter still held them back).
            if (!Tree.WakeLevel(level))
            {
                level.Queue.Head?.Nudge();
            }

            return true;
        }
    }
}
