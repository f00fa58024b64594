using Microsoft.Extensions.Caching.Memory;

namespace Headroom;

/// <summary>
/// Charges a <see cref="MemoryCache"/> to a budget and shrinks it under the budget's pressure (semantics §6), since
/// <see cref="MemoryCache"/> itself no longer reacts to memory pressure. Register it with
/// <see cref="MemoryBudget.RegisterReclaimer(IMemoryReclaimer, ReclaimerOptions)"/>; reclaim then calls <see cref="MemoryCache.Compact"/>.
/// </summary>
/// <remarks>
/// <para>
/// Accounting is by reconciliation against the cache's own size counter (the sum of its entries'
/// <see cref="ICacheEntry.Size"/>, read from <see cref="MemoryCache.GetCurrentStatistics"/>), not by tracking entries
/// one by one: that counter is the one the cache enforces its <see cref="MemoryCacheOptions.SizeLimit"/> with, it
/// covers entries added without this class and evictions of every kind (capacity, expiry, tokens, replacement,
/// <see cref="MemoryCache.Remove"/>, <see cref="MemoryCache.Clear"/>), and it changes synchronously with the removal,
/// whereas eviction callbacks run later on the thread pool. So a reconcile charges exactly what the cache holds at that
/// moment. The cache therefore needs both <see cref="MemoryCacheOptions.SizeLimit"/> (it counts sizes only then) and
/// <see cref="MemoryCacheOptions.TrackStatistics"/> (the counter is public only through the statistics).
/// </para>
/// <para>
/// A reconcile happens on <see cref="TrySet"/>, after every eviction of an entry added by <see cref="TrySet"/> (from its
/// eviction callback), on <see cref="Reconcile"/>, and at the start of each <see cref="Reclaim"/>. Shrinkage is
/// uncharged. Growth (entries added straight to the cache) is charged without waiting
/// (<see cref="AllocationMode.NoWait"/>, so a reconcile never blocks or recurses into reclaim); when the budget refuses
/// it, the cache is compacted back down to what is charged, so that the cache never holds more than its charge. Only
/// entries that <see cref="MemoryCache.Compact"/> cannot remove (<see cref="CacheItemPriority.NeverRemove"/>) can leave
/// the cache above its charge; the next reconcile tries to charge them again.
/// </para>
/// <para>Thread-safe: reconciles, reclaims and disposal are serialized by one lock; <see cref="GetReclaimableBytes"/> takes none.</para>
/// </remarks>
public sealed class MemoryCacheReclaimer : IMemoryReclaimer, IDisposable
{
    /// <summary>Bounds the compaction rounds of one call, in case other threads refill the cache as fast as it is compacted.</summary>
    private const int MaxCompactRounds = 64;

    private const string Site = nameof(MemoryCacheReclaimer);

    private static readonly PostEvictionDelegate Evicted = static (_, _, _, state) => ((MemoryCacheReclaimer)state!).OnEvicted();

    private readonly MemoryCache _cache;
    private readonly MemoryBudget _budget;
    private readonly object _sync = new(); // a Monitor, which Coyote can schedule
    private long _charged; // written under _sync
    private bool _disposed; // written under _sync

    /// <summary>Starts charging <paramref name="cache"/> to <paramref name="budget"/>, charging what it already holds.</summary>
    /// <param name="cache">
    /// The cache; it must have <see cref="MemoryCacheOptions.SizeLimit"/> and <see cref="MemoryCacheOptions.TrackStatistics"/>
    /// set. It stays the caller's: disposing the reclaimer neither clears nor disposes it.
    /// </param>
    /// <param name="budget">The budget its size is charged to.</param>
    /// <exception cref="ArgumentNullException"><paramref name="cache"/> or <paramref name="budget"/> is null.</exception>
    /// <exception cref="ArgumentException">The cache lacks <see cref="MemoryCacheOptions.SizeLimit"/> or <see cref="MemoryCacheOptions.TrackStatistics"/>; the message names the rule.</exception>
    /// <exception cref="MemoryAllocationException">The budget refused the cache's current contents (charged as <see cref="AllocationMode.MayFail"/>); nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The cache's current contents exceed the budget's capacity; nothing changed.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public MemoryCacheReclaimer(MemoryCache cache, MemoryBudget budget)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(budget);
        MemoryCacheStatistics? statistics = cache.GetCurrentStatistics()
            ?? throw new ArgumentException(
                $"{nameof(MemoryCacheReclaimer)} needs a MemoryCache created with {nameof(MemoryCacheOptions)}.{nameof(MemoryCacheOptions.TrackStatistics)} = true: "
                + $"it reads the cache's total size from {nameof(MemoryCache.GetCurrentStatistics)}, which returns null otherwise. "
                + $"{nameof(MemoryCacheOptions)}.{nameof(MemoryCacheOptions.SizeLimit)} must be set as well.",
                nameof(cache));
        if (statistics.CurrentEstimatedSize is not long size)
        {
            throw new ArgumentException(
                $"{nameof(MemoryCacheReclaimer)} needs a MemoryCache created with {nameof(MemoryCacheOptions)}.{nameof(MemoryCacheOptions.SizeLimit)} set: "
                + "MemoryCache tracks the sizes of its entries only when it has a size limit, and their sum is what is charged to the budget.",
                nameof(cache));
        }

        if (size > budget.Capacity)
        {
            // Checked here: the charge's own check would name its parameter, "bytes", not this constructor's.
            throw new ArgumentOutOfRangeException(nameof(cache), size,
                $"The cache already holds {size} bytes, more than the capacity of budget '{budget.Name}' ({budget.Capacity} bytes); it could never be charged.");
        }

        _cache = cache;
        _budget = budget;
        if (size > 0)
        {
            budget.Charge(size, AllocationMode.MayFail, site: Site);
            _charged = size;
        }
    }

    /// <summary>Gets the bytes charged to the budget on the cache's behalf, as of the last reconcile.</summary>
    public long Charged => Volatile.Read(ref _charged);

    /// <summary>
    /// Charges <paramref name="size"/> bytes, running one pass of direct reclaim if needed (<see cref="AllocationMode.MayFail"/>),
    /// and only then adds the entry with <see cref="ICacheEntry.Size"/> = <paramref name="size"/>, so that the cache never
    /// holds memory the budget has not granted.
    /// </summary>
    /// <param name="key">The entry's key.</param>
    /// <param name="value">The entry's value.</param>
    /// <param name="size">Its size in bytes; positive and not above the budget's capacity. Overrides any size in <paramref name="options"/>.</param>
    /// <param name="options">Expiration, priority and callbacks, as for <see cref="CacheExtensions.Set{TItem}(IMemoryCache, object, TItem, MemoryCacheEntryOptions?)"/>.</param>
    /// <returns>
    /// <see langword="false"/> when the budget refused the charge: the cache was not touched and nothing is charged.
    /// <see langword="true"/> when the entry was handed to the cache. The cache may still drop it by its own rules, as
    /// for any Set (it rejects an entry that does not fit its <see cref="MemoryCacheOptions.SizeLimit"/>, or one already
    /// expired); the reconcile that follows then returns the charge at once.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> breaks its rule; nothing changed.</exception>
    /// <exception cref="ObjectDisposedException">The reclaimer, the budget or the cache was disposed; nothing is left charged.</exception>
    public bool TrySet(object key, object? value, long size, MemoryCacheEntryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (size <= 0 || size > _budget.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size,
                $"An entry's size must be positive and not above the capacity of budget '{_budget.Name}' ({_budget.Capacity} bytes); it was {size}.");
        }

        if (Volatile.Read(ref _disposed))
        {
            ThrowDisposed();
        }

        // Charged before taking the lock: a MayFail charge may run direct reclaim, which may call this reclaimer.
        if (!_budget.TryCharge(size, AllocationMode.MayFail, site: Site))
        {
            return false;
        }

        lock (_sync)
        {
            if (_disposed)
            {
                _budget.Uncharge(size);
                ThrowDisposed();
            }

            Volatile.Write(ref _charged, _charged + size);
            try
            {
                using ICacheEntry entry = _cache.CreateEntry(key);
                if (options is not null)
                {
                    entry.SetOptions(options);
                }

                entry.Size = size;
                entry.RegisterPostEvictionCallback(Evicted, this);
                entry.Value = value; // last: an entry whose value was never set is not committed by Dispose
            }
            finally
            {
                SettleLocked(chargeGrowth: true); // exact again, whether the cache took the entry or not
            }
        }

        return true;
    }

    /// <summary>
    /// Brings the charge in line with the cache's size now: uncharges what it shed, charges what it gained
    /// (<see cref="AllocationMode.NoWait"/>), and when the budget refuses the gain compacts the cache back to its charge.
    /// </summary>
    /// <remarks>
    /// Call it after adding entries to the cache directly rather than through <see cref="TrySet"/>. Evictions of entries
    /// added by <see cref="TrySet"/> reconcile on their own, shortly after (eviction callbacks run on the thread pool).
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The reclaimer was disposed.</exception>
    public void Reconcile()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                ThrowDisposed();
            }

            SettleLocked(chargeGrowth: true);
        }
    }

    private void ThrowDisposed() =>
        throw new ObjectDisposedException($"{nameof(MemoryCacheReclaimer)} on '{_budget.Name}'", $"The cache reclaimer on budget '{_budget.Name}' was disposed.");

    /// <summary>Gets what is charged on the cache's behalf: all of it can be compacted away, short of <see cref="CacheItemPriority.NeverRemove"/> entries.</summary>
    /// <returns>The bytes charged; 0 after <see cref="Dispose"/>.</returns>
    public long GetReclaimableBytes() => Volatile.Read(ref _charged);

    /// <summary>
    /// Uncharges what the cache has shed since the last reconcile, then compacts it by the fraction of its entries that
    /// the rest of <paramref name="target"/> is of its size, and uncharges what the compaction removed.
    /// </summary>
    /// <param name="target">The bytes asked for.</param>
    /// <param name="cancellationToken">Stops further compaction rounds; what was already removed is still uncharged.</param>
    /// <returns>
    /// The bytes uncharged during the call; <see cref="ReclaimResult.Stop"/> when nothing could be removed (an empty
    /// cache, or only <see cref="CacheItemPriority.NeverRemove"/> entries).
    /// </returns>
    /// <remarks>
    /// <see cref="MemoryCache.Compact"/> removes a share of the entries (expired first, then by priority and least
    /// recent use), not of the bytes, so the call compacts again while it is short of its target, and may free more
    /// than asked: a whole entry is the smallest unit. The cache's size is measured right after each compaction, on
    /// the calling flow, because eviction callbacks run later on the thread pool and would not count as progress.
    /// Growth that appeared meanwhile is compacted away with the rest, never charged here (reclaim context).
    /// </remarks>
    public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            long before = _charged;
            if (_disposed || before == 0 || target <= 0)
            {
                return ReclaimResult.Stop;
            }

            CompactToLocked(Math.Max(0, before - target), cancellationToken);
            SettleLocked(chargeGrowth: false);
            long freed = before - _charged;
            return freed > 0 ? new ReclaimResult(freed) : ReclaimResult.Stop;
        }
    }

    /// <summary>Uncharges everything still charged for the cache; the cache itself, and its entries, stay the caller's. Harmless twice.</summary>
    /// <remarks>Dispose the registration returned by <see cref="MemoryBudget.RegisterReclaimer(IMemoryReclaimer, ReclaimerOptions)"/> as well; until then reclaim finds nothing here.</remarks>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            Volatile.Write(ref _disposed, true);
            long charged = _charged;
            Volatile.Write(ref _charged, 0);
            if (charged > 0)
            {
                _budget.Uncharge(charged);
            }
        }
    }

    /// <summary>An entry added by <see cref="TrySet"/> left the cache (on the thread pool): uncharge what the cache shed.</summary>
    private void OnEvicted()
    {
        lock (_sync)
        {
            if (!_disposed)
            {
                SettleLocked(chargeGrowth: false);
            }
        }
    }

    /// <summary>
    /// Makes the charge equal to the cache's size: uncharges shrinkage; with <paramref name="chargeGrowth"/>, charges
    /// growth without waiting or compacts it away when refused. Caller holds <see cref="_sync"/>.
    /// </summary>
    private void SettleLocked(bool chargeGrowth)
    {
        long size = CacheSize();
        if (size > _charged && chargeGrowth)
        {
            long growth = size - _charged;
            if (growth <= _budget.Capacity && _budget.TryCharge(growth, AllocationMode.NoWait, site: Site))
            {
                Volatile.Write(ref _charged, size);
                return;
            }

            size = CompactToLocked(_charged, CancellationToken.None); // refused: the cache never holds more than its charge
        }

        if (size < _charged)
        {
            long shrinkage = _charged - size;
            Volatile.Write(ref _charged, size);
            _budget.Uncharge(shrinkage);
        }
    }

    /// <summary>
    /// Compacts the cache until its size is at most <paramref name="limit"/>, it cannot shrink further, or
    /// <paramref name="cancellationToken"/> is cancelled; returns its size then. Caller holds <see cref="_sync"/>.
    /// </summary>
    private long CompactToLocked(long limit, CancellationToken cancellationToken)
    {
        long size = CacheSize();
        for (int round = 0; size > limit && round < MaxCompactRounds && !cancellationToken.IsCancellationRequested; round++)
        {
            int count = _cache.Count;
            if (count == 0)
            {
                break;
            }

            // Compact takes a share of entries, not bytes: remove the same share of the entries as the excess is of the
            // bytes, at least one. Compact truncates count × fraction, so aim half an entry above the whole number.
            long entries = Math.Clamp((long)Math.Ceiling((double)count * (size - limit) / size), 1, count);
            _cache.Compact(Math.Min(1.0, (entries + 0.5) / count));
            long after = CacheSize();
            if (after >= size)
            {
                return after; // nothing removable is left, or others refill it as fast
            }

            size = after;
        }

        return size;
    }

    /// <summary>The cache's total entry size now; never negative (MemoryCache's counter is only eventually consistent).</summary>
    private long CacheSize() => Math.Max(0, _cache.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0);
}
