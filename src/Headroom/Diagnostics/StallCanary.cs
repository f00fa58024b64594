using Headroom.Waiting;
using Microsoft.Extensions.Logging;

namespace Headroom.Diagnostics;

/// <summary>
/// The stall warning of semantics §3: while anyone waits, a timer looks at the waiters once per interval and logs
/// one warning for the whole tree about the oldest one that has waited its interval (the tree's, or its site's). One
/// warning per interval, never one per waiter: Linux reverted its per-allocation stall warning (2017) because thousands
/// of stalled threads printing at once deepened the lockup. The timer exists only while somebody waits.
/// </summary>
internal sealed class StallCanary
{
    private readonly BudgetTree _tree;
    private readonly ILogger _logger;
    private ITimer? _timer;
    private TimeSpan _period = Timeout.InfiniteTimeSpan;
    private long _lastWarning;
    private bool _warned;

    internal StallCanary(BudgetTree tree, ILogger logger, TimeSpan interval)
    {
        _tree = tree;
        _logger = logger;
        Interval = interval;
    }

    /// <summary>Gets the tree's interval, for waiters whose site sets none.</summary>
    internal TimeSpan Interval { get; }

    /// <summary>A waiter was parked: the timer ticks at the shortest interval of those waiting. Caller holds the tree's lock.</summary>
    internal void OnWaiting(Waiter waiter)
    {
        TimeSpan interval = waiter.CanaryInterval;
        if (interval == Timeout.InfiniteTimeSpan || (_timer is not null && interval >= _period))
        {
            return;
        }

        _period = interval;
        if (_timer is null)
        {
            _timer = Detached.Start(() => _tree.TimeProvider.CreateTimer(static state => ((StallCanary)state!).Check(), this, interval, interval));
        }
        else
        {
            _timer.Change(interval, interval);
        }
    }

    /// <summary>Nobody waits any more. Caller holds the tree's lock.</summary>
    internal void OnIdle()
    {
        _timer?.Dispose();
        _timer = null;
        _period = Timeout.InfiniteTimeSpan;
    }

    /// <summary>
    /// How long the oldest charge of <paramref name="within"/>'s subtree that the canary counts as stalled (it has
    /// waited its interval) has waited, on the tree's clock; null when none has. The rule <see cref="Check"/> warns by.
    /// </summary>
    internal TimeSpan? OldestStall(MemoryBudget within)
    {
        lock (_tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, _tree.Sync);
            TimeProvider clock = _tree.TimeProvider;
            long now = clock.GetTimestamp();
            foreach (Waiter waiter in _tree.ByAge)
            {
                TimeSpan waited = clock.GetElapsedTime(waiter.StartTimestamp, now);
                if (waiter.CanaryInterval != Timeout.InfiniteTimeSpan && waited >= waiter.CanaryInterval && waiter.Budget.IsWithin(within))
                {
                    return waited; // the list is oldest first: the first stalled one has waited longest
                }
            }

            return null;
        }
    }

    private void Check()
    {
        Waiter? oldest = null;
        TimeSpan stall = TimeSpan.Zero;
        int stalled = 0, waiting;
        lock (_tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, _tree.Sync);
            _tree.RetryReclaimForWaiters();
            TimeProvider clock = _tree.TimeProvider;
            long now = clock.GetTimestamp();
            TimeSpan limit = Timeout.InfiniteTimeSpan;
            foreach (Waiter waiter in _tree.ByAge)
            {
                TimeSpan waited = clock.GetElapsedTime(waiter.StartTimestamp, now);
                if (waiter.CanaryInterval != Timeout.InfiniteTimeSpan && waited >= waiter.CanaryInterval)
                {
                    stalled++;
                    limit = limit == Timeout.InfiniteTimeSpan || waiter.CanaryInterval < limit ? waiter.CanaryInterval : limit;
                    if (oldest is null)
                    {
                        oldest = waiter; // the list is oldest first
                        stall = waited;
                    }
                }
            }

            if (oldest is null || (_warned && clock.GetElapsedTime(_lastWarning, now) < limit))
            {
                return;
            }

            _warned = true;
            _lastWarning = now;
            waiting = _tree.ByAge.Count;
        }

        // Logged outside the lock: a logger is user code and may itself charge memory (and so is a meter's listener).
        oldest.Budget.ObserveCanaryWarning();
        Log.AllocationStall(_logger, (long)stall.TotalMilliseconds, oldest.Bytes, oldest.Mode, oldest.Site ?? "(none)", oldest.Consumer ?? "(none)",
            oldest.Budget.Name, oldest.Budget.GetSnapshot(), stalled, waiting);
    }
}
