using Headroom.Accounting;
using Headroom.Waiting;

namespace Headroom;

/// <summary>The wait queue's entry (semantics §3): parking a charge in FIFO order, bounded waits, and grants made on a waiter's behalf.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>
    /// Parks a NoFail charge in the queue of the level that refuses it; the waker charges on its behalf. A charge from
    /// reclaim context (<paramref name="jump"/>) queues ahead of every other waiter: the memory it frees is theirs.
    /// </summary>
    private Task Wait(long bytes, Floor floor, AllocationMode mode, string? site, MemoryReservation? admits, bool jump, CancellationToken cancellationToken) =>
        Enqueue(bytes, floor, mode, site, admits, jump, backToKiller: false, cancellationToken).Completion.Task;

    /// <summary>
    /// <see cref="Wait"/>, returning the waiter itself: granted already, or queued (and cancellable). A waiter that goes
    /// <paramref name="backToKiller"/> is one from its creation, under the lock, so that no nudge after it queued is lost.
    /// </summary>
    private Waiter Enqueue(long bytes, Floor floor, AllocationMode mode, string? site, MemoryReservation? admits, bool jump, bool backToKiller, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (Tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Tree.Sync);
            ThrowIfDisposed();
            waiter = Tree.NewWaiter(this, bytes, floor, mode, site, admits, jump, backToKiller);
            if (TryGrant(waiter) is not { } refusedBy || BudgetTree.QueueAt(waiter, refusedBy))
            {
                waiter.Complete();
                return waiter;
            }

            Tree.Park(waiter);
        }

        ObserveWaitBegun(waiter); // outside the lock: a listener is user code

        if (cancellationToken.CanBeCanceled)
        {
            CancellationTokenRegistration registration = cancellationToken.Register(
                static (state, token) => ((Waiter)state!).Budget.Tree.Cancel((Waiter)state!, token), waiter);
            lock (Tree.Sync)
            {
                LockOrder.Entered(LockLevel.Tree, Tree.Sync);
                if (waiter.QueuedAt is null)
                {
                    registration.Unregister(); // granted, cancelled or failed meanwhile
                }
                else
                {
                    waiter.Registration = registration;
                }
            }
        }

        return waiter;
    }

    /// <summary>
    /// A try on behalf of a waiter, in its place in line: a charge, or a reservation's admission, which goes into the
    /// reservation here, with the grant, so that Reserved counts it as soon as Committed does rather than once the
    /// requester's flow runs again. Caller holds the tree's lock.
    /// </summary>
    internal MemoryBudget? TryGrant(Waiter waiter)
    {
        LockOrder.Held(Tree.Sync);
        MemoryBudget? refusedBy = Counter.TryCharge(waiter.Bytes, waiter.Floor, waiter.Ticket, locked: true);
        if (refusedBy is null && waiter.Admits is { } reservation && !reservation.Admit(waiter.Bytes))
        {
            Counter.Undo(waiter.Bytes, refusedBy: null, locked: true); // a growth of a reservation disposed meanwhile: nothing to keep
            waiter.Rejected = true;
        }

        return refusedBy;
    }

    /// <summary>
    /// The level of the waiter's path that would refuse it now, read without charging anything; null when it would fit
    /// at every level. For a look that no release prompted (the waiter's visit to the OOM killer): a trial charge is seen
    /// by concurrent charges for an instant, and such a look, which mostly finds the waiter still refused where it
    /// waits, must not make them fail. Caller holds the tree's lock.
    /// </summary>
    internal MemoryBudget? WouldRefuse(Waiter waiter)
    {
        LockOrder.Held(Tree.Sync);
        for (MemoryBudget? level = this; level is not null; level = level.Parent)
        {
            if ((waiter.Ticket != Ticket.Jump && level.Queue.HoldsBack(waiter.Floor, waiter.Ticket))
                || !level.Counter.Fits(waiter.Bytes, waiter.Floor))
            {
                return level;
            }
        }

        return null;
    }

    /// <summary>Wakes, in order, the waiters of this budget's path that now fit: accounting's one call back up.</summary>
    internal void WakeWaiters()
    {
        lock (Tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Tree.Sync);
            Tree.WakePath(this);
        }
    }

    /// <summary>A wait bounded by a site's policy: past <paramref name="maxWait"/> it fails as a refusal, leaving nothing behind.</summary>
    private async Task WaitAtMost(TimeSpan maxWait, long bytes, Floor floor, AllocationMode mode, string? site, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(maxWait, Tree.TimeProvider);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        try
        {
            await Wait(bytes, floor, mode, site, admits: null, jump: false, either.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            ObserveRefusal(mode);
            throw Refusal(bytes, mode, site, this);
        }
    }
}
