using Headroom.Accounting;
using System.Diagnostics;

namespace Headroom.Waiting;

/// <summary>
/// A charge parked in a wait queue until the tree can grant it. All fields but the completion are guarded by the
/// tree's lock; the waker charges on the waiter's behalf, so a completed waiter already owns its bytes.
/// </summary>
internal sealed class Waiter
{
    private const int VisitNone = 0, VisitRunning = 1, VisitAgain = 2;

    /// <summary>This waiter's visit to the OOM killer: none, one running (or scheduled), or one running that must look again.</summary>
    private int _visit;

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

    /// <summary>A NoFail charge or admission out of memory (semantics §7): while it waits, each nudge takes it back to the OOM killer.</summary>
    internal bool GoesBackToKiller { get; init; }

    /// <summary>Set by a grant that found the reservation it admits into disposed: the bytes went back, and the wait fails.</summary>
    internal bool Rejected { get; set; }

    /// <summary>
    /// Wakes the waiter without granting it (it stays queued): its turn came, or a victim ended, and it may still not
    /// fit. A waiter that goes back to the OOM killer schedules a visit there (<see cref="MemoryBudget.VisitKiller"/>);
    /// for the others it is a no-op. Each nudge is seen by a look that starts after it: a nudge during a look asks the
    /// running visit for one more rather than starting a second visit, so at most one visit per waiter runs at a time.
    /// </summary>
    /// <remarks>
    /// A scheduled work item, not a loop parked on a task completion source: its continuation would run wherever that
    /// source's completion sends it, which Coyote does not schedule, and whose grant (the completion of this waiter) it
    /// then cannot see; it reported a granted waiter as stranded (issue 10's note, item A).
    /// </remarks>
    internal void Nudge()
    {
        if (!GoesBackToKiller)
        {
            return;
        }

        int visit = Volatile.Read(ref _visit);
        while (visit != VisitAgain)
        {
            int seen = Interlocked.CompareExchange(ref _visit, visit == VisitNone ? VisitRunning : VisitAgain, visit);
            if (seen == visit)
            {
                if (visit == VisitNone)
                {
                    _ = Task.Run(() => Budget.VisitKiller(this)); // never on the nudger's thread, which may hold the tree's lock
                }

                return;
            }

            visit = seen;
        }
    }

    /// <summary>At the start of each look of a visit: nudges from now on ask for another look.</summary>
    internal void BeginLook() => Volatile.Write(ref _visit, VisitRunning);

    /// <summary>At the end of a look: true when the visit ends (nobody nudged since it began), false when it looks again.</summary>
    internal bool EndLook() => Interlocked.CompareExchange(ref _visit, VisitNone, VisitRunning) == VisitRunning;

    /// <summary>Completes a waiter that left the queue granted: it owns its bytes, unless its reservation was disposed meanwhile.</summary>
    internal void Complete()
    {
        Debug.Assert(QueuedAt is null, "a waiter is completed once it left its queue, by whoever took it out");
        if (Rejected)
        {
            Completion.TrySetException(Admits!.DisposedDuringGrowth(Bytes));
        }
        else if (!Completion.TrySetResult())
        {
            Debug.Fail("a granted waiter was completed before: its bytes would be charged twice");
        }
    }
}
