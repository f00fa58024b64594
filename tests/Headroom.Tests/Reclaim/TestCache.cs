namespace Headroom.Tests.Reclaim;

/// <summary>A cache whose bytes are really charged to a budget, and that really uncharges what it frees.</summary>
internal sealed class TestCache : IMemoryReclaimer
{
    private readonly MemoryBudget _budget;
    private readonly object _sync = new();
    private long _cached;

    internal TestCache(MemoryBudget budget, long cached)
    {
        _budget = budget;
        budget.Charge(cached, AllocationMode.NoWait);
        _cached = cached;
    }

    internal long Cached
    {
        get
        {
            lock (_sync)
            {
                return _cached;
            }
        }
    }

    /// <summary>Every target asked for, in order.</summary>
    internal List<long> Asked { get; } = [];

    /// <summary>Runs inside each call, before freeing; may throw, block or charge.</summary>
    internal Action<long>? During { get; set; }

    /// <summary>Adds to what each call claims, beyond what it frees.</summary>
    internal long Exaggeration { get; set; }

    /// <summary>Caps what one call frees.</summary>
    internal long PerCall { get; set; } = long.MaxValue;

    public long GetReclaimableBytes() => Cached;

    public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
    {
        lock (Asked)
        {
            Asked.Add(target);
        }

        During?.Invoke(target);
        long freed = Free(Math.Min(target, PerCall));
        return new ReclaimResult(freed + Exaggeration);
    }

    internal long Free(long bytes)
    {
        long freed;
        lock (_sync)
        {
            freed = Math.Min(bytes, _cached);
            _cached -= freed;
        }

        if (freed > 0)
        {
            _budget.Uncharge(freed);
        }

        return freed;
    }

    internal void Drop() => Free(long.MaxValue);
}
