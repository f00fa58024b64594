using Microsoft.Extensions.Logging;

namespace Headroom.Diagnostics;

/// <summary>
/// The stall warning of semantics §3: while anyone waits, a timer looks at the oldest waiter once per interval and
/// logs one warning for the whole tree when it has waited an interval or more. One warning per interval, never one
/// per waiter: Linux reverted its per-allocation stall warning (2017) because thousands of stalled threads printing
/// at once deepened the lockup. The timer exists only while somebody waits; nothing polls memory.
/// </summary>
internal sealed class StallCanary
{
    private readonly BudgetTree _tree;
    private readonly ILogger _logger;
    private readonly TimeSpan _interval;
    private ITimer? _timer;
    private long _lastWarning;
    private bool _warned;
    private long _warnings;

    internal StallCanary(BudgetTree tree, ILogger logger, TimeSpan interval)
    {
        _tree = tree;
        _logger = logger;
        _interval = interval;
    }

    /// <summary>Gets how many stall warnings were written.</summary>
    internal long Warnings => Interlocked.Read(ref _warnings);

    private bool Enabled => _interval != Timeout.InfiniteTimeSpan;

    /// <summary>A waiter was queued. Caller holds the tree's lock.</summary>
    internal void OnWaiting()
    {
        if (Enabled && _timer is null)
        {
            _timer = _tree.TimeProvider.CreateTimer(static state => ((StallCanary)state!).Check(), this, _interval, _interval);
        }
    }

    /// <summary>Nobody waits any more. Caller holds the tree's lock.</summary>
    internal void OnIdle()
    {
        _timer?.Dispose();
        _timer = null;
    }

    private void Check()
    {
        Waiter oldest;
        TimeSpan stall;
        int stalled = 0, waiting;
        lock (_tree.Sync)
        {
            if (_tree.ByAge.First?.Value is not { } first)
            {
                return;
            }

            oldest = first;
            _tree.RetryReclaimForWaiters();

            TimeProvider clock = _tree.TimeProvider;
            long now = clock.GetTimestamp();
            stall = clock.GetElapsedTime(oldest.StartTimestamp, now);
            if (stall < _interval || (_warned && clock.GetElapsedTime(_lastWarning, now) < _interval))
            {
                return;
            }

            foreach (Waiter waiter in _tree.ByAge)
            {
                if (clock.GetElapsedTime(waiter.StartTimestamp, now) < _interval)
                {
                    break; // the list is oldest first
                }

                stalled++;
            }

            _warned = true;
            _lastWarning = now;
            waiting = _tree.ByAge.Count;
            Interlocked.Increment(ref _warnings);
        }

        // Logged outside the lock: a logger is user code and may itself charge memory.
        Log.AllocationStall(_logger, (long)stall.TotalMilliseconds, oldest.Bytes, oldest.Mode, oldest.Site ?? "(none)",
            oldest.Budget.Name, oldest.Budget.GetSnapshot(), stalled, waiting);
    }
}
