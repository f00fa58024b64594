using Headroom.Accounting;
using Headroom.Waiting;
using Headroom.Diagnostics;
using Headroom.Reclaim;
using Microsoft.Extensions.Logging;

namespace Headroom;

/// <summary>
/// What the budgets of one tree share: the lock over every wait queue, the ticket counter, the list of waiters by
/// age, the canary and the clock. Charges and uncharges never take the lock unless somebody waits.
/// </summary>
internal sealed class BudgetTree
{
    private readonly LinkedList<Waiter> _byAge = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SitePolicy> _sites = new(StringComparer.Ordinal);
    private long _nextTicket = 1;

    internal BudgetTree(TimeProvider timeProvider, ILogger logger, TimeSpan canaryInterval, OomOptions oom, BudgetMeter meter)
    {
        TimeProvider = timeProvider;
        Meter = meter;
        Logger = logger;
        Canary = new StallCanary(this, logger, canaryInterval);
        Reclaimers = new ReclaimDriver(this, logger);
        Reclaim = Reclaimers;
        Oom = new OomKiller(this, logger, oom);
    }

    /// <summary>The lock over every queue, waiter and child list of the tree (a Monitor, so Coyote can schedule it).</summary>
    internal object Sync { get; } = new();

    internal TimeProvider TimeProvider { get; }

    internal ILogger Logger { get; }

    internal StallCanary Canary { get; }

    /// <summary>The meter the tree's budgets report to (the root's factory's, or the shared one).</summary>
    internal BudgetMeter Meter { get; }

    /// <summary>The tree's OOM killer.</summary>
    internal OomKiller Oom { get; }

    /// <summary>The tree's shrinkers, priority loop and background worker.</summary>
    internal ReclaimDriver Reclaimers { get; }

    /// <summary>The tree's live reservations: what Reserved is read from.</summary>
    internal LiveReservations Reservations { get; } = new();

    /// <summary>The two-step releases in flight, which readings of Used check for (see <see cref="ReleasesInFlight"/>).</summary>
    internal ReleasesInFlight Releases { get; } = new();

    /// <summary>The tree's per-thread stocks and their drain (semantics §1).</summary>
    internal Stocks.StockDrain Stocks { get; } = new();

    /// <summary>The seam through which charges ask for reclaim: <see cref="Reclaimers"/>, or a stand-in in tests.</summary>
    internal IReclaimDriver Reclaim { get; set; }

    /// <summary>Waiters of the whole tree, oldest first. Guarded by <see cref="Sync"/>.</summary>
    internal LinkedList<Waiter> ByAge => _byAge;

    /// <summary>Gives a charge that may have to wait its place in line. Caller holds <see cref="Sync"/>.</summary>
    internal Waiter NewWaiter(MemoryBudget budget, long bytes, Floor floor, AllocationMode mode, string? site, MemoryReservation? admits, bool jump, bool backToKiller)
    {
        LockOrder.Held(Sync);
        return new(budget, bytes, floor, mode, site, admits, jump ? Ticket.Jump : _nextTicket++, TimeProvider.GetTimestamp())
        {
            GoesBackToKiller = backToKiller,
            CanaryInterval = SitePolicy(site)?.CanaryInterval ?? Canary.Interval,
            Consumer = AllocationContext.Current?.Consumer?.Name,
            Owner = AllocationContext.Current?.Consumer,
        };
    }

    /// <summary>Records a queued waiter as waiting, for the canary. Caller holds <see cref="Sync"/>.</summary>
    internal void Park(Waiter waiter)
    {
        LockOrder.Held(Sync);
        _byAge.AddLast(waiter.AgeNode);
        MemoryBudget.Stalled(waiter); // pressure stall information: it stalls from now until it leaves
        Stocks.OnParked(); // nobody stocks while anyone waits
        Canary.OnWaiting(waiter);
        Reclaim.WakeBackground(waiter.QueuedAt!); // reclaim goes on for it in the background while it waits
    }

    /// <summary>The canary's tick: while anyone stalls, background reclaim is asked again for every level with waiters. Caller holds <see cref="Sync"/>.</summary>
    internal void RetryReclaimForWaiters()
    {
        LockOrder.Held(Sync);
        foreach (Waiter waiter in _byAge)
        {
            if (waiter.QueuedAt is { } level)
            {
                Reclaim.WakeBackground(level);
            }
        }
    }

    /// <summary>
    /// Grants every waiter that can now proceed after memory was freed on the path from <paramref name="from"/> to
    /// the root: per level in ticket order, stopping at the first that still does not fit. Caller holds <see cref="Sync"/>.
    /// </summary>
    internal void WakePath(MemoryBudget from)
    {
        LockOrder.Held(Sync);
        bool granted;
        do
        {
            granted = false;
            for (MemoryBudget? level = from; level is not null; level = level.Parent)
            {
                granted |= WakeLevel(level);
            }
        }
        while (granted);
    }

    /// <summary>
    /// After a waiter left <paramref name="level"/>'s line other than by a grant of <see cref="WakeLevel"/> (cancelled,
    /// failed, or granted in its place by the killer): those behind it may fit now; a head that still does not is a new
    /// head all the same, so background reclaim goes on for it and it goes back to the killer, as after a grant.
    /// Caller holds <see cref="Sync"/>.
    /// </summary>
    internal void AfterLeaving(MemoryBudget level)
    {
        LockOrder.Held(Sync);
        if (!WakeLevel(level) && level.Queue.Head is { } head)
        {
            Reclaim.WakeBackground(level);
            head.Nudge();
        }
    }

    /// <summary>Grants the waiters queued at one level while they fit. Caller holds <see cref="Sync"/>.</summary>
    internal bool WakeLevel(MemoryBudget level)
    {
        LockOrder.Held(Sync);
        bool granted = false;
        while (level.Queue.Head is { } head)
        {
            MemoryBudget? refusedBy = head.Budget.TryGrant(head);
            if (refusedBy == level)
            {
                if (granted)
                {
                    Reclaim.WakeBackground(level); // a new head: reclaim goes on for it
                    head.Nudge(); // and if it goes back to the OOM killer while it waits, it does so now
                }

                break;
            }

            level.Queue.Remove(head);

            // Granted; or it fits here now but another level of its path refuses it, and it waits there instead.
            if (refusedBy is null || QueueAt(head, refusedBy))
            {
                Leave(head);
                head.Complete();
                granted = true;
            }
            else
            {
                head.Nudge(); // it waits at another level now
            }
        }

        return granted;
    }

    /// <summary>
    /// Queues a waiter at the level that refused it, then tries it once more; true when that try granted it. An
    /// uncharge lands lock-free: one that freed memory after the refusal but before the queuing saw no waiter there,
    /// and this second look is what keeps its wake-up from being lost. Caller holds <see cref="Sync"/>.
    /// </summary>
    internal static bool QueueAt(Waiter waiter, MemoryBudget refusedBy)
    {
        LockOrder.Held(waiter.Budget.Tree.Sync);
        while (true)
        {
            refusedBy.Queue.Add(waiter, refusedBy);
            MemoryBudget? again = waiter.Budget.TryGrant(waiter);
            if (again == refusedBy)
            {
                return false; // still refused there: it waits, and the next release at that level will see it
            }

            refusedBy.Queue.Remove(waiter);
            if (again is null)
            {
                return true;
            }

            refusedBy = again;
        }
    }

    /// <summary>A victim of the OOM killer ended (released its memory, or was given up on): every waiter that goes back to the killer while it waits does so now.</summary>
    internal void NudgeAll()
    {
        lock (Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Sync);
            foreach (Waiter waiter in _byAge)
            {
                waiter.Nudge();
            }
        }
    }

    /// <summary>Takes a waiter out for good (granted, cancelled or failed). Caller holds <see cref="Sync"/>.</summary>
    internal void Leave(Waiter waiter)
    {
        LockOrder.Held(Sync);
        waiter.LeftAt = TimeProvider.GetTimestamp(); // the wait's end, for its duration
        _byAge.Remove(waiter.AgeNode);
        MemoryBudget.StallEnded(waiter);
        Stocks.OnLeft();
        waiter.Registration.Unregister(); // not Dispose: that would wait for a running callback, which needs this lock
        if (_byAge.Count == 0)
        {
            Canary.OnIdle();
        }
    }

    /// <summary>The cancellation callback of a waiter: it leaves without a trace, and those it held up are woken.</summary>
    internal void Cancel(Waiter waiter, CancellationToken cancellationToken)
    {
        lock (Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Sync);
            if (waiter.QueuedAt is not { } level)
            {
                return; // already granted or failed: the outcome stands
            }

            level.Queue.Remove(waiter);
            Leave(waiter);
            waiter.Completion.TrySetCanceled(cancellationToken);
            AfterLeaving(level);
        }
    }

    /// <summary>The policy of <paramref name="site"/>, or null; read only on the slow path and at the blocking entry points.</summary>
    internal SitePolicy? SitePolicy(string? site) => site is not null && !_sites.IsEmpty && _sites.TryGetValue(site, out SitePolicy? policy) ? policy : null;

    internal void SetSitePolicy(string site, SitePolicy? policy)
    {
        if (policy is null)
        {
            _sites.TryRemove(site, out _);
        }
        else
        {
            _sites[site] = policy;
        }
    }

    internal void WakeBackgroundReclaim(MemoryBudget level) => Reclaim.WakeBackground(level);
}
