using Headroom.Accounting;
using Headroom.Reclaim;

namespace Headroom;

/// <summary>Reclaimers registered on a budget (semantics §6).</summary>
public sealed partial class MemoryBudget
{
    /// <summary>1 while this level waits for the background worker.</summary>
    private int _backgroundQueued;

    /// <summary>Timestamp before which a level whose last background pass made no progress is not queued again.</summary>
    private long _backgroundRetryAt;

    /// <summary>
    /// Registers a reclaimer (a shrinker) for memory charged to this budget. It is asked for memory when this budget or
    /// any ancestor is short, cheapest first.
    /// </summary>
    /// <param name="reclaimer">The reclaimer.</param>
    /// <param name="options">Its domain, cost, whether it does I/O and its timeout; validated now.</param>
    /// <returns>A registration; disposing it unregisters the reclaimer.</returns>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public IDisposable RegisterReclaimer(IMemoryReclaimer reclaimer, ReclaimerOptions options)
    {
        ArgumentNullException.ThrowIfNull(reclaimer);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ThrowIfDisposed();
        return Tree.Reclaimers.Register(this, new ReclaimerCall(reclaimer), options);
    }

    /// <summary>
    /// Registers an asynchronous reclaimer (a shrinker) for memory charged to this budget. It is asked for memory when
    /// this budget or any ancestor is short, cheapest first; asynchronous charges and background reclaim await it.
    /// </summary>
    /// <param name="reclaimer">The reclaimer.</param>
    /// <param name="options">Its domain, cost, whether it does I/O and its timeout; validated now.</param>
    /// <returns>A registration; disposing it unregisters the reclaimer.</returns>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public IDisposable RegisterReclaimer(IAsyncMemoryReclaimer reclaimer, ReclaimerOptions options)
    {
        ArgumentNullException.ThrowIfNull(reclaimer);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ThrowIfDisposed();
        return Tree.Reclaimers.Register(this, new ReclaimerCall(reclaimer), options);
    }

    /// <summary>
    /// What background reclaim should free at this level: enough for the high watermark, and enough for the oldest
    /// waiter queued here to fit above its floor.
    /// </summary>
    internal long Shortfall()
    {
        long committed = Committed;
        long shortfall = HighWatermark - (Capacity - committed);
        lock (Tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Tree.Sync);
            if (Queue.Head is { } head)
            {
                shortfall = Math.Max(shortfall, head.Bytes - (Capacity - Counter.FloorBytes(head.Floor) - committed));
            }
        }

        return shortfall;
    }

    /// <summary>Claims this level's place in the background worker's queue; false when already queued or resting.</summary>
    internal bool TryQueueForBackground(TimeProvider clock)
    {
        if (Volatile.Read(ref _backgroundQueued) != 0)
        {
            return false;
        }

        long retryAt = Volatile.Read(ref _backgroundRetryAt);
        if (retryAt != 0 && clock.GetTimestamp() < retryAt)
        {
            return false;
        }

        return Interlocked.CompareExchange(ref _backgroundQueued, 1, 0) == 0;
    }

    /// <summary>Whether this level rests after a fruitless background pass: the worker does not take it up before then.</summary>
    internal bool IsResting(TimeProvider clock)
    {
        long retryAt = Volatile.Read(ref _backgroundRetryAt);
        return retryAt != 0 && clock.GetTimestamp() < retryAt;
    }

    /// <summary>The worker is done with this level; after a pass without progress it rests for <paramref name="rest"/>.</summary>
    internal void LeaveBackgroundQueue(TimeProvider clock, TimeSpan rest)
    {
        Volatile.Write(ref _backgroundRetryAt, rest == TimeSpan.Zero ? 0 : clock.GetTimestamp() + (long)(rest.TotalSeconds * clock.TimestampFrequency));
        Volatile.Write(ref _backgroundQueued, 0);
    }
}
