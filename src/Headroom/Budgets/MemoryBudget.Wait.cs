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
        MemoryBudget? refusedBy = TryChargePath(waiter.Bytes, waiter.Floor, waiter.Ticket, locked: true);
        if (refusedBy is null && waiter.Admits is { } reservation && !reservation.Admit(waiter.Bytes))
        {
            Undo(waiter.Bytes, refusedBy: null, locked: true); // a growth of a reservation disposed meanwhile: nothing to keep
            waiter.Rejected = true;
        }

        return refusedBy;
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
