using Headroom.Waiting;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Headroom.Diagnostics;

namespace Headroom.Accounting;

/// <summary>
/// One level's counter, Linux's <c>page_counter</c>: Committed (Used + Reserved + Stocked) against the capacity, charged
/// and released lock-free along the path to the root. Every grant of the library goes through it: charges, reservations'
/// admissions and draws, stocks' refills and the arena's buffers; nothing else writes Committed. It knows the level's
/// wait queue only to keep its order (nobody overtakes a waiter) and to wake it; it calls up into nothing else.
/// </summary>
internal sealed class BudgetCounter
{
    private readonly WaitQueue _queue;

    /// <summary>Used + Reserved + Stocked at this level, its descendants' included.</summary>
    private long _committed;

    /// <summary>A value of <see cref="_reservations"/>: no reservation is live at this level or below.</summary>
    private const int NoneLive = 0;

    /// <summary>A value of <see cref="_reservations"/>: a reservation may be live at this level or below.</summary>
    private const int MayBeLive = 1;

    /// <summary>
    /// Whether a reservation may be live at this level or below: while none is, Used is Committed less the stocks, and
    /// an uncharge's check is one read. <see cref="NoneLive"/>, <see cref="MayBeLive"/>, or the token of a reading that
    /// checks whether any still is (<see cref="TryBeginForgetting"/>), which counts as may-be-live. Not a count, so
    /// that neither an admission nor a disposal writes it with a locked instruction: an admission marks it (a plain
    /// store, and only when it is not marked already), and a reading that walked the reservations and found none live
    /// clears it.
    /// </summary>
    private int _reservations;

    internal BudgetCounter(MemoryBudget owner, BudgetCounter? parent, long capacity, Watermarks watermarks)
    {
        Owner = owner;
        Parent = parent;
        Capacity = capacity;
        Watermarks = watermarks;
        _queue = owner.Queue;
    }

    /// <summary>Gets the budget this counter counts for.</summary>
    internal MemoryBudget Owner { get; }

    /// <summary>Gets the parent level's counter, or null at the root.</summary>
    internal BudgetCounter? Parent { get; }

    internal long Capacity { get; }

    internal Watermarks Watermarks { get; }

    internal long Committed => Volatile.Read(ref _committed);

    /// <summary>Gets whether a reservation may be live at this level or below; false only when none is.</summary>
    internal bool HasLiveReservations => Volatile.Read(ref _reservations) != NoneLive;

    /// <summary>The bytes a charge of this floor must leave free at this level.</summary>
    internal long FloorBytes(Floor floor) => floor switch
    {
        Floor.Low => Watermarks.Low,
        Floor.Min => Watermarks.Min,
        Floor.HalfMin => Watermarks.Min / 2,
        Floor.Atomic => Watermarks.Min * 3 / 8,
        _ => 0,
    };

    /// <summary>The bytes a charge of <paramref name="floor"/> could take here now; negative when the level is past its floor.</summary>
    internal long Room(Floor floor) => Capacity - FloorBytes(floor) - Committed;

    /// <summary>True when this level has room for <paramref name="bytes"/> above <paramref name="floor"/>: a refusal here was only for the line's order.</summary>
    internal bool Fits(long bytes, Floor floor) => Committed + bytes <= Capacity - FloorBytes(floor);

    /// <summary>
    /// Charges every level from this one up to <paramref name="stopAt"/> (exclusive; null: the root included), leaving
    /// <paramref name="floor"/> free at each and overtaking no waiter older than <paramref name="ticket"/>. Returns null
    /// when granted, else the budget that refused, with every level as it was. Lock-free; <paramref name="locked"/> says
    /// the caller holds the tree's lock (and will wake waiters itself).
    /// </summary>
    internal MemoryBudget? TryCharge(long bytes, Floor floor, long ticket, bool locked, BudgetCounter? stopAt = null)
    {
        for (BudgetCounter? level = this; level != stopAt; level = level.Parent)
        {
            if (!level!.TryChargeLevel(bytes, floor, ticket))
            {
                if (level != this)
                {
                    Undo(bytes, level, locked);
                }

                return level.Owner;
            }
        }

        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryChargeLevel(long bytes, Floor floor, long ticket)
    {
        // Nobody overtakes a waiter of its class (or a deeper one) queued at this level: arrivals read the queue's
        // counts without the lock, a waker holding the lock compares with the head, and reclaim context jumps the line.
        if (ticket != Ticket.Jump && _queue.HoldsBack(floor, ticket))
        {
            return false;
        }

        long limit = Capacity - FloorBytes(floor);
        long committed = Volatile.Read(ref _committed);
        while (true)
        {
            long next = committed + bytes;
            if (next > limit)
            {
                return false;
            }

            long seen = Interlocked.CompareExchange(ref _committed, next, committed);
            if (seen == committed)
            {
                if (Capacity - next < Watermarks.Low)
                {
                    Owner.Tree.WakeBackgroundReclaim(Owner);
                }

                return true;
            }

            committed = seen;
        }
    }

    /// <summary>
    /// Takes a partial charge back from this level up to <paramref name="refusedBy"/> (exclusive; null: the root
    /// included). For an instant those levels looked fuller than they were; a waiter that was refused meanwhile is
    /// woken here, so no wake-up is lost.
    /// </summary>
    internal void Undo(long bytes, BudgetCounter? refusedBy, bool locked)
    {
        bool waiters = false;
        for (BudgetCounter? level = this; level is not null && level != refusedBy; level = level.Parent)
        {
            Interlocked.Add(ref level._committed, -bytes);
            waiters |= level._queue.Count != 0;
        }

        if (waiters && !locked)
        {
            Owner.WakeWaiters();
        }
    }

    /// <summary>
    /// An uncharge: lowers this level only if its Committed covers <paramref name="bytes"/>, then every ancestor, then
    /// wakes the waiters that now fit. False, with nothing changed, when it does not (<paramref name="committed"/> says what it read).
    /// </summary>
    internal bool TryUncharge(long bytes, out long committed)
    {
        committed = Volatile.Read(ref _committed);
        while (bytes <= committed)
        {
            long seen = Interlocked.CompareExchange(ref _committed, committed - bytes, committed);
            if (seen == committed)
            {
                if ((Parent?.Lower(bytes) ?? false) | _queue.Count != 0)
                {
                    Owner.WakeWaiters();
                }

                return true;
            }

            committed = seen;
        }

        return false;
    }

    /// <summary>
    /// Lowers Committed at this level and every ancestor without waking anyone; returns whether a waiter queues on the
    /// path (the caller wakes them, once it has finished what it does with the counters: see <see cref="ReleasesInFlight"/>).
    /// </summary>
    internal bool Lower(long bytes)
    {
        bool waiters = false;
        for (BudgetCounter? level = this; level is not null; level = level.Parent)
        {
            if (Interlocked.Add(ref level._committed, -bytes) is < 0 and long left)
            {
                level.ForgetUnderflow(Math.Min(-left, bytes));
            }

            waiters |= level._queue.Count != 0;
        }

        return waiters;
    }

    /// <summary>Lowers Committed at this level and every ancestor, then wakes the waiters that now fit.</summary>
    internal void Release(long bytes, bool waiters)
    {
        if (Lower(bytes) | waiters)
        {
            Owner.WakeWaiters();
        }
    }

    /// <summary>
    /// Marks this level and every ancestor as holding a live reservation. The caller listed it in the tree's
    /// <c>LiveReservations</c> and has made a full fence since, so that a reading clearing the mark either sees it
    /// listed (after its own fence) or has cleared the mark before this reads it (and this marks it again).
    /// </summary>
    internal void NoteLiveReservation()
    {
        for (BudgetCounter? level = this; level is not null; level = level.Parent)
        {
            if (Volatile.Read(ref level._reservations) != MayBeLive)
            {
                Volatile.Write(ref level._reservations, MayBeLive); // NoneLive, or a reading's token: its clearing must fail
            }
        }
    }

    /// <summary>
    /// A reading found no live reservation at or below this level and starts to prove it: replaces the mark with its
    /// <paramref name="token"/> (unique among readings in progress) by a compare-and-swap, which is also the full fence
    /// after which it walks them again. False when the level was not simply marked (another reading proves it already).
    /// </summary>
    internal bool TryBeginForgetting(int token)
    {
        Debug.Assert(token > MayBeLive, "a token is neither mark");
        return Volatile.Read(ref _reservations) == MayBeLive && Interlocked.CompareExchange(ref _reservations, token, MayBeLive) == MayBeLive;
    }

    /// <summary>
    /// Ends the proof that <see cref="TryBeginForgetting"/> began: clears the mark when the walk after it found none live,
    /// else restores it. Either fails, harmlessly, when an admission marked the level meanwhile.
    /// </summary>
    internal void EndForgetting(int token, bool anyLive) => Interlocked.CompareExchange(ref _reservations, anyLive ? MayBeLive : NoneLive, token);

    /// <summary>
    /// Committed below zero is proof of an earlier uncharge that took bytes live reservations or stocks held (an
    /// uncharge's check can be passed by at most what they hold). Left as it is, every later charge could go past
    /// capacity by that much; so the part of this release that went below zero is added back, where it shows, and reported.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ForgetUnderflow(long deficit)
    {
        Debug.Assert(deficit > 0, "only a release that went below zero is repaired");
        Interlocked.Add(ref _committed, deficit);
        Log.CommittedBelowZero(Owner.Tree.Logger, Owner.Name, deficit);
    }
}
