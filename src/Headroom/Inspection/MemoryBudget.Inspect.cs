using Headroom.Waiting;
using Headroom.Inspection;

namespace Headroom;

/// <summary>The public snapshot (issue 13): who waits, what is held, by whom, and the pressure.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>The tree's last OOM reports; set at a root, which all its budgets read through <see cref="Root"/>.</summary>
    private OomHistory? _oomHistory;

    /// <summary>
    /// Takes a full report of this budget: its counters and children's, who waits (size, mode, site, consumer, for how
    /// long), the live reservations (amount, drawn, consumer), the consumers and their usage, the reclaimers and what
    /// they could free, the tree's last OOM reports and the pressure stall information. For the counters alone,
    /// <see cref="GetSnapshot"/> is cheaper.
    /// </summary>
    /// <returns>The report; printable, and serialisable through <see cref="HeadroomJsonContext"/>.</returns>
    /// <remarks>
    /// Charges are not held up: the tree's lock is taken once, only to copy the waiters and consumers, and everything
    /// is built after it is left. Each reclaimer's <see cref="IMemoryReclaimer.GetReclaimableBytes"/> is called, outside
    /// every lock; one that throws is reported as unknown and not backed off.
    /// </remarks>
    public MemoryBudgetReport Inspect()
    {
        long now = Tree.TimeProvider.GetTimestamp();
        (Waiter Waiter, MemoryBudget QueuedAt)[] waiters;
        (MemoryConsumer Consumer, int Stalled)[] consumers;
        MemoryBudget[] children;
        lock (Tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Tree.Sync);
            waiters = new (Waiter, MemoryBudget)[Tree.ByAge.Count];
            int n = 0;
            foreach (Waiter waiter in Tree.ByAge)
            {
                if (waiter.QueuedAt is { } level && (waiter.Budget.IsWithin(this) || level.IsWithin(this)))
                {
                    waiters[n++] = (waiter, level);
                }
            }

            Array.Resize(ref waiters, n);
            MemoryConsumer[] counted = CountedConsumers();
            consumers = new (MemoryConsumer, int)[counted.Length];
            for (int i = 0; i < counted.Length; i++)
            {
                consumers[i] = (counted[i], StalledCharges(counted[i]));
            }

            children = [.. _children];
        }

        return new MemoryBudgetReport(
            Name,
            Tree.TimeProvider.GetUtcNow(),
            GetSnapshot(),
            [.. children.Select(static c => c.GetSnapshot())],
            [.. waiters.Select(w => new WaiterReport(
                w.Waiter.Budget.Name, w.QueuedAt.Name, w.Waiter.Bytes, w.Waiter.Mode, w.Waiter.Site, w.Waiter.Consumer,
                Tree.TimeProvider.GetElapsedTime(w.Waiter.StartTimestamp, now), w.Waiter.Admits is not null))],
            [.. Tree.Reservations.LiveWithin(this).Select(static r => new ReservationReport(r.Budget.Name, r.Mode, r.Amount, r.Drawn, r.Remaining, r.Owner?.Name))],
            [.. consumers
                .Where(c => c.Consumer.Budget.IsWithin(this))
                .OrderBy(static c => c.Consumer.Order)
                .Select(static c => new ConsumerReport(c.Consumer.Name, c.Consumer.Budget.Name, c.Consumer.Charged, c.Consumer.Reserved, c.Consumer.OomScoreAdj, c.Consumer.IsKilled, c.Stalled))],
            [.. Tree.Reclaimers.Registered.Where(s => s.Budget.IsWithin(this)).Select(static s => new ReclaimerReport(
                s.Reclaimer.Name, s.Budget.Name, s.Domain, s.Cost, s.DoesIo, ReclaimableOrNull(s.Reclaimer)))],
            Root._oomHistory?.Recent() ?? [],
            Pressure.Read());
    }

    /// <summary>A root keeps its tree's last OOM reports from its creation on.</summary>
    private void KeepOomReports()
    {
        var history = new OomHistory();
        _oomHistory = history;
        Tree.Oom.Reported += (_, report) => history.Add(report);
    }

    private static long? ReclaimableOrNull(Reclaim.ReclaimerCall reclaimer)
    {
        try
        {
            return Math.Max(0, reclaimer.GetReclaimableBytes());
        }
        catch (Exception)
        {
            return null; // the reclaimer's fault, reported as unknown; reclaim itself isolates it when it next asks
        }
    }
}
