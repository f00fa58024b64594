namespace Headroom;

/// <summary>
/// A tree's live reservations, where <see cref="MemoryBudget.Reserved"/> is read from. Semantics §1 defines Reserved
/// as the bytes promised to live reservations and not yet drawn, so it is the sum of their
/// <see cref="MemoryReservation.Remaining"/>, not a counter of its own. That keeps an admission at one
/// compare-and-swap on Committed, a release at one add, and a draw off every budget counter (§1: "needs no global
/// check at all"). A read walks the tree's live reservations: it is for getters, snapshots and exceptions, never for a
/// grant.
/// </summary>
/// <remarks>
/// One list per thread that admits reservations in the tree, with that thread as its only writer: it pushes each new
/// reservation at the head, skipping disposed ones there, and every <see cref="PruneEvery"/> pushes unlinks the rest.
/// Readers walk the lists without a lock. An unlinked node keeps its link, so a reader standing on it still reaches
/// every live reservation behind it. A disposed reservation stays listed (counting 0) until its thread next prunes;
/// lists of threads that ended are pruned, and dropped once empty, when another thread starts a list.
/// </remarks>
internal sealed class LiveReservations
{
    private const int PruneEvery = 64;

    [ThreadStatic]
    private static Slot? t_slot; // this thread's list in the tree it last reserved in, which Close lets go of

    private readonly object _sync = new(); // a Monitor, not System.Threading.Lock: Coyote 1.7 controls only the former
    private ThreadList[] _lists = []; // replaced whole under _sync, so readers need no lock
    private volatile bool _closed;

    /// <summary>
    /// Lists a reservation: one just admitted (Committed already counts it), or one about to be admitted, which counts
    /// 0 until it is; so no reader counts it only here.
    /// </summary>
    internal void Add(MemoryReservation reservation)
    {
        Slot slot = t_slot ??= new Slot();
        ThreadList? list = slot.List;
        if (list?.Owner != this)
        {
            list = Own(slot);
            if (!_closed)
            {
                slot.List = list; // an admission racing the tree's end must not pin it again
            }
        }

        list.Push(reservation);
    }

    /// <summary>
    /// The tree ended: no thread keeps its list at hand any longer, so that a thread which never reserves again does
    /// not keep the tree (and the caches registered on it) alive. Its reservations still count while anyone holds them.
    /// </summary>
    internal void Close()
    {
        _closed = true;
        foreach (ThreadList list in Volatile.Read(ref _lists))
        {
            if (list.Slot.List == list)
            {
                list.Slot.List = null; // racing the owner's switch to another tree costs it one more lookup, nothing else
            }
        }
    }

    /// <summary>
    /// The remaining bytes of the live reservations at <paramref name="level"/> or its descendants;
    /// <paramref name="anyLive"/> says whether it met one not disposed (one listed and not yet admitted included).
    /// </summary>
    internal long Within(MemoryBudget level, out bool anyLive)
    {
        long sum = 0;
        anyLive = false;
        foreach (ThreadList list in Volatile.Read(ref _lists))
        {
            for (MemoryReservation? r = list.Head; r is not null; r = Volatile.Read(ref r.NextLive))
            {
                if (r.Budget.IsWithin(level))
                {
                    long remaining = r.RawRemaining;
                    if (remaining >= 0)
                    {
                        sum += remaining;
                        anyLive = true;
                    }
                }
            }
        }

        return sum;
    }

    /// <summary>The live (not disposed) reservations at <paramref name="level"/> or its descendants, for the snapshot; read as <see cref="Within"/> is.</summary>
    internal List<MemoryReservation> LiveWithin(MemoryBudget level)
    {
        var live = new List<MemoryReservation>();
        foreach (ThreadList list in Volatile.Read(ref _lists))
        {
            for (MemoryReservation? r = list.Head; r is not null; r = Volatile.Read(ref r.NextLive))
            {
                if (!r.IsDisposed && r.IsAdmitted && r.Budget.IsWithin(level))
                {
                    live.Add(r);
                }
            }
        }

        return live;
    }

    /// <summary>This thread's list in this tree, started if it has none.</summary>
    private ThreadList Own(Slot slot)
    {
        Thread current = Thread.CurrentThread;
        foreach (ThreadList list in Volatile.Read(ref _lists))
        {
            if (list.Thread == current)
            {
                return list;
            }
        }

        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            // The writer of an ended thread's list is gone, so pruning it here, under the lock, keeps one writer.
            var kept = new List<ThreadList>(_lists.Length + 1);
            foreach (ThreadList list in _lists)
            {
                if (list.Thread.IsAlive || !list.Prune())
                {
                    kept.Add(list);
                }
            }

            var own = new ThreadList(this, current, slot);
            kept.Add(own);
            Volatile.Write(ref _lists, [.. kept]);
            return own;
        }
    }

    private sealed class Slot
    {
        internal ThreadList? List { get; set; }
    }

    private sealed class ThreadList(LiveReservations owner, Thread thread, Slot slot)
    {
        private MemoryReservation? _head;
        private int _sincePrune;

        internal LiveReservations Owner { get; } = owner;

        internal Thread Thread { get; } = thread;

        /// <summary>Its thread's slot, which <see cref="Close"/> clears.</summary>
        internal Slot Slot { get; } = slot;

        internal MemoryReservation? Head => Volatile.Read(ref _head);

        internal void Push(MemoryReservation reservation)
        {
            MemoryReservation? head = _head;
            while (head is { IsDisposed: true })
            {
                head = head.NextLive; // reserve-then-dispose, the common pattern, leaves a disposed head: skip it now
            }

            if (head is not null)
            {
                reservation.NextLive = head; // a new reservation's link is null already: skip the store's GC barrier
            }

            Volatile.Write(ref _head, reservation);
            if (++_sincePrune == PruneEvery)
            {
                Prune();
            }
        }

        /// <summary>Unlinks the disposed reservations; true when none is left. Only the list's writer calls it.</summary>
        internal bool Prune()
        {
            _sincePrune = 0;
            MemoryReservation? kept = null;
            for (MemoryReservation? r = _head; r is not null; r = r.NextLive)
            {
                if (!r.IsDisposed)
                {
                    kept = r;
                }
                else if (kept is null)
                {
                    Volatile.Write(ref _head, r.NextLive);
                }
                else
                {
                    Volatile.Write(ref kept.NextLive, r.NextLive);
                }
            }

            return _head is null;
        }
    }
}
