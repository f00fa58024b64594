using Headroom.Waiting;
using Headroom.Diagnostics;

namespace Headroom;

/// <summary>
/// The hooks through which the mechanisms report to the tree's meter and to the "Headroom" event source. Each is one
/// call at a place that is already slow (a refusal, a reclaimer call, a kill, a warning, a wait), and checks that
/// anyone listens before it reads or formats anything.
/// </summary>
public sealed partial class MemoryBudget
{
    /// <summary>Adds this budget and its live descendants to <paramref name="into"/>, for the meter's observable instruments.</summary>
    internal void CollectLiveTree(List<MemoryBudget> into)
    {
        lock (Tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Tree.Sync);
            Collect(this, into);
        }

        static void Collect(MemoryBudget budget, List<MemoryBudget> into)
        {
            if (budget._disposed)
            {
                return; // and so are its descendants
            }

            into.Add(budget);
            foreach (MemoryBudget child in budget._children)
            {
                Collect(child, into);
            }
        }
    }

    /// <summary>A charge at this budget was refused after what its <paramref name="mode"/> (the caller's) allows.</summary>
    internal void ObserveRefusal(AllocationMode mode) => Tree.Meter.Refused(this, mode);

    /// <summary>A reclaimer registered here returned from a call for <paramref name="asked"/> bytes, having uncharged <paramref name="freed"/>.</summary>
    internal void ObserveReclaim(object reclaimer, string domain, long asked, long freed)
    {
        Tree.Meter.Reclaimed(this, freed);
        if (HeadroomEventSource.Log.TracesReclaim)
        {
            HeadroomEventSource.Log.Reclaimed(Name, reclaimer.GetType().Name, domain, asked, freed);
        }
    }

    /// <summary>The OOM killer cancelled <paramref name="victim"/> for a request of <paramref name="requested"/> bytes at this budget.</summary>
    internal void ObserveKill(MemoryConsumer victim, long charged, long requested)
    {
        Tree.Meter.Killed(this);
        if (HeadroomEventSource.Log.TracesOom)
        {
            HeadroomEventSource.Log.OomKill(Name, victim.Name, victim.Budget.Name, charged, requested);
        }
    }

    /// <summary>The canary warned about a waiter of this budget.</summary>
    internal void ObserveCanaryWarning() => Tree.Meter.CanaryWarned(this);

    /// <summary>A stock of this budget gave <paramref name="bytes"/> back.</summary>
    internal void ObserveStockDrained(long bytes)
    {
        if (HeadroomEventSource.Log.TracesStocks)
        {
            HeadroomEventSource.Log.StockDrained(Name, bytes);
        }
    }

    /// <summary>
    /// <paramref name="waiter"/> was parked. Its end is recorded by a continuation of its completion, which runs on the
    /// thread pool (the completion runs its continuations asynchronously): never under the tree's lock, where every
    /// waiter leaves, since a listener is user code. Without a listener nothing is attached.
    /// </summary>
    private void ObserveWaitBegun(Waiter waiter)
    {
        bool traced = HeadroomEventSource.Log.TracesWaits;
        if (traced)
        {
            HeadroomEventSource.Log.WaitBegun(Name, waiter.Bytes, BudgetMeter.ModeName(waiter.Mode), waiter.Site ?? "", waiter.Consumer ?? "");
        }

        if (traced || Tree.Meter.ObservesWaits)
        {
            _ = waiter.Completion.Task.ContinueWith(
                static (task, state) => ((Waiter)state!).Budget.ObserveWaitEnded((Waiter)state!, task.Status),
                waiter,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    private void ObserveWaitEnded(Waiter waiter, TaskStatus status)
    {
        string outcome = status switch
        {
            TaskStatus.RanToCompletion => "granted",
            TaskStatus.Canceled => "cancelled",
            _ => "failed",
        };

        TimeProvider clock = Tree.TimeProvider;
        TimeSpan waited = clock.GetElapsedTime(waiter.StartTimestamp, waiter.LeftAt ?? clock.GetTimestamp());
        Tree.Meter.WaitEnded(this, waiter.Mode, waited, outcome);
        if (HeadroomEventSource.Log.TracesWaits)
        {
            HeadroomEventSource.Log.WaitEnded(Name, waiter.Bytes, BudgetMeter.ModeName(waiter.Mode), waiter.Site ?? "", waited.TotalSeconds, outcome);
        }
    }
}
