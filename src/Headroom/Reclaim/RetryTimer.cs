using System.Collections.Concurrent;

namespace Headroom.Reclaim;

/// <summary>
/// Background reclaim's own timer: levels that rest after a fruitless pass while still short are handed back to the
/// worker once the rest is over. It runs on the budget's <see cref="TimeProvider"/> and only while some level rests,
/// so waiters never depend on the canary (or on logging) to be woken again.
/// </summary>
internal sealed class RetryTimer : IDisposable
{
    private readonly ConcurrentDictionary<MemoryBudget, byte> _resting = new();
    private readonly TimeProvider _clock;
    private readonly TimeSpan _rest;
    private readonly Action<MemoryBudget> _wake;
    private ITimer? _timer; // made on the first rest: most trees never rest, and a budget's constructor starts no timer
    private int _armed;
    private volatile bool _disposed;

    internal RetryTimer(TimeProvider clock, TimeSpan rest, Action<MemoryBudget> wake)
    {
        _clock = clock;
        _rest = rest;
        _wake = wake;
    }

    /// <summary>Remembers a resting level and arms the timer if it is not armed.</summary>
    internal void Add(MemoryBudget level)
    {
        _resting.TryAdd(level, 0);
        if (!_disposed && Interlocked.Exchange(ref _armed, 1) == 0)
        {
            Timer().Change(_rest, Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        Volatile.Read(ref _timer)?.Dispose();
    }

    private ITimer Timer()
    {
        if (Volatile.Read(ref _timer) is { } timer)
        {
            return timer;
        }

        ITimer created = Detached.Start(() => _clock.CreateTimer(static state => ((RetryTimer)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
        ITimer? won = Interlocked.CompareExchange(ref _timer, created, null);
        if (won is not null)
        {
            created.Dispose();
            return won;
        }

        if (_disposed)
        {
            created.Dispose(); // disposed while this one was being made: Dispose may have read null
        }

        return created;
    }

    private void Fire()
    {
        Volatile.Write(ref _armed, 0);
        bool stillResting = false;
        foreach (MemoryBudget level in _resting.Keys)
        {
            if (level.IsResting(_clock))
            {
                stillResting = true; // it began resting after the timer was armed: its turn comes on the next tick
                continue;
            }

            _resting.TryRemove(level, out _);
            if (!_disposed && level.Shortfall() > 0)
            {
                _wake(level); // still short: the worker tries again (and rests it again if it finds nothing)
            }
        }

        if (stillResting && !_disposed && Interlocked.Exchange(ref _armed, 1) == 0)
        {
            Timer().Change(_rest, Timeout.InfiniteTimeSpan);
        }
    }
}
