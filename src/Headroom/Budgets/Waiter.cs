namespace Headroom;

/// <summary>
/// A charge parked in a wait queue until the tree can grant it. All fields but the completion are guarded by the
/// tree's lock; the waker charges on the waiter's behalf, so a completed waiter already owns its bytes.
/// </summary>
internal sealed class Waiter
{
    private TaskCompletionSource? _turn;

    internal Waiter(MemoryBudget budget, long bytes, Floor floor, AllocationMode mode, string? site, MemoryReservation? admits, long ticket, long startTimestamp)
    {
        Admits = admits;
        Budget = budget;
        Bytes = bytes;
        Floor = floor;
        Mode = mode;
        Site = site;
        Ticket = ticket;
        StartTimestamp = startTimestamp;
        QueueNode = new LinkedListNode<Waiter>(this);
        AgeNode = new LinkedListNode<Waiter>(this);
    }

    internal MemoryBudget Budget { get; }

    internal long Bytes { get; }

    internal Floor Floor { get; }

    internal AllocationMode Mode { get; }

    internal string? Site { get; }

    /// <summary>For a reservation's admission or growth: the reservation the granted bytes go into (semantics §5).</summary>
    internal MemoryReservation? Admits { get; }

    internal long Ticket { get; }

    internal long StartTimestamp { get; }

    /// <summary>When it left the tree's waiters (granted, cancelled or failed), by the tree's clock; null while it waits.</summary>
    internal long? LeftAt { get; set; }

    /// <summary>The consumer the charge is attributed to, for the canary's report; null when none.</summary>
    internal string? Consumer { get; init; }

    /// <summary>The consumer the charge is attributed to, for pressure's "full" state; null when none.</summary>
    internal MemoryConsumer? Owner { get; init; }

    /// <summary>How long this waiter may wait before the canary reports it: its site's interval, else the tree's.</summary>
    internal TimeSpan CanaryInterval { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>Continuations run asynchronously so that a waker holding the tree's lock never runs user code.</summary>
    internal TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>This waiter's node in the queue of <see cref="QueuedAt"/>.</summary>
    internal LinkedListNode<Waiter> QueueNode { get; }

    /// <summary>This waiter's node in the tree's list of all waiters, oldest first (for the canary).</summary>
    internal LinkedListNode<Waiter> AgeNode { get; }

    /// <summary>The level whose queue holds this waiter: the level that last refused it; null once it left.</summary>
    internal MemoryBudget? QueuedAt { get; set; }

    internal CancellationTokenRegistration Registration { get; set; }

    /// <summary>Set by a grant that found the reservation it admits into disposed: the bytes went back, and the wait fails.</summary>
    internal bool Rejected { get; set; }

    /// <summary>
    /// For a waiter that goes back to the OOM killer while it waits: a task that completes when it became the head of
    /// its queue, or moved to another level, and still does not fit. Only the latest such task is completed.
    /// </summary>
    internal Task NextTurn()
    {
        var turn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _turn, turn);
        return turn.Task;
    }

    /// <summary>Wakes the waiter without granting it (it stays queued): its turn came and it still does not fit. A no-op for waiters that do not go back to the killer.</summary>
    internal void Nudge() => Interlocked.Exchange(ref _turn, null)?.TrySetResult();

    /// <summary>Completes a waiter that left the queue granted: it owns its bytes, unless its reservation was disposed meanwhile.</summary>
    internal void Complete()
    {
        if (Rejected)
        {
            Completion.TrySetException(Admits!.DisposedDuringGrowth(Bytes));
        }
        else
        {
            Completion.TrySetResult();
        }
    }
}
