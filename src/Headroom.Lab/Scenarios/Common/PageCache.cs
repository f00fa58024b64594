using System.Buffers;

namespace Headroom.Lab.Scenarios.Common;

/// <summary>
/// A page cache of real 4 KiB pages rented from the budget: clean pages are cheap to drop, dirty pages must be written
/// to a real file before they can be dropped. It offers two reclaimers: <see cref="Clean"/> (domain "pagecache") and
/// <see cref="Writeback"/> (domain "fs", does I/O), whose writeback may first need a lock of the filesystem's.
/// </summary>
internal sealed class PageCache : IDisposable
{
    public const int PageSize = 4096;
    public const string CleanDomain = "pagecache";
    public const string FsDomain = "fs";

    private readonly MemoryBudget _budget;
    private readonly object _sync = new();
    private readonly Queue<IMemoryOwner<byte>> _clean = new();
    private readonly Queue<IMemoryOwner<byte>> _dirty = new();
    private readonly FileStream _backing;
    private readonly Func<CancellationToken, IDisposable>? _writebackLock;
    private readonly CancellationToken _stop;
    private int _busy;
    private bool _disposed;

    /// <param name="budget">The budget its pages are rented from.</param>
    /// <param name="writebackLock">Taken around every writeback (the journal lock of scenario 2); it must honour the token.</param>
    /// <param name="stop">The run's token: a writeback waiting for the lock gives up when it fires.</param>
    public PageCache(MemoryBudget budget, Func<CancellationToken, IDisposable>? writebackLock, CancellationToken stop)
    {
        _budget = budget;
        _writebackLock = writebackLock;
        _stop = stop;
        _backing = new FileStream(Path.Combine(Path.GetTempPath(), $"headroom-lab-{Environment.ProcessId}-{Guid.NewGuid():N}.pages"),
            FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, PageSize, FileOptions.DeleteOnClose);
        Clean = new CleanReclaimer(this);
        Writeback = new WritebackReclaimer(this);
    }

    /// <summary>Drops clean pages: nothing to write, no lock needed.</summary>
    public IMemoryReclaimer Clean { get; }

    /// <summary>Writes dirty pages to the backing file, then drops them; takes the writeback lock first.</summary>
    public IMemoryReclaimer Writeback { get; }

    public long CleanBytes
    {
        get
        {
            lock (_sync)
            {
                return (long)_clean.Count * PageSize;
            }
        }
    }

    public long DirtyBytes
    {
        get
        {
            lock (_sync)
            {
                return (long)_dirty.Count * PageSize;
            }
        }
    }

    /// <summary>Rents one page without waiting (NoWait: a cache never pushes anyone into reclaim) and adds it; false when refused.</summary>
    public bool TryAdd(bool dirty, byte fill)
    {
        if (!_budget.TryRent(PageSize, out IMemoryOwner<byte>? page))
        {
            return false;
        }

        page.Memory.Span.Fill(fill);
        lock (_sync)
        {
            if (!_disposed)
            {
                (dirty ? _dirty : _clean).Enqueue(page);
                return true;
            }
        }

        page.Dispose();
        return false;
    }

    /// <summary>Adds a page the caller rented (a transaction's data, now dirty in the cache).</summary>
    public void Add(IMemoryOwner<byte> page, bool dirty)
    {
        lock (_sync)
        {
            if (!_disposed)
            {
                (dirty ? _dirty : _clean).Enqueue(page);
                return;
            }
        }

        page.Dispose();
    }

    /// <summary>Drops every page; waits for reclaim calls in flight (they honour the run's token) so that nothing is left charged.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            _disposed = true;
        }

        SpinWait spin = default;
        while (Volatile.Read(ref _busy) != 0)
        {
            spin.SpinOnce();
        }

        lock (_sync)
        {
            while (_clean.TryDequeue(out IMemoryOwner<byte>? page))
            {
                page.Dispose();
            }

            while (_dirty.TryDequeue(out IMemoryOwner<byte>? page))
            {
                page.Dispose();
            }
        }

        _backing.Dispose();
    }

    private List<IMemoryOwner<byte>> Take(Queue<IMemoryOwner<byte>> queue, long target)
    {
        var taken = new List<IMemoryOwner<byte>>();
        lock (_sync)
        {
            while (!_disposed && (long)taken.Count * PageSize < target && queue.TryDequeue(out IMemoryOwner<byte>? page))
            {
                taken.Add(page);
            }
        }

        return taken;
    }

    private static long Drop(List<IMemoryOwner<byte>> pages)
    {
        foreach (IMemoryOwner<byte> page in pages)
        {
            page.Dispose();
        }

        return (long)pages.Count * PageSize;
    }

    private sealed class CleanReclaimer(PageCache cache) : IMemoryReclaimer
    {
        public long GetReclaimableBytes() => cache.CleanBytes;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref cache._busy);
            try
            {
                return new ReclaimResult(PageCache.Drop(cache.Take(cache._clean, target)));
            }
            finally
            {
                Interlocked.Decrement(ref cache._busy);
            }
        }
    }

    private sealed class WritebackReclaimer(PageCache cache) : IMemoryReclaimer
    {
        public long GetReclaimableBytes() => cache.DirtyBytes;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref cache._busy);
            try
            {
                using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, cache._stop);
                using IDisposable? held = cache._writebackLock?.Invoke(either.Token);
                List<IMemoryOwner<byte>> pages = cache.Take(cache._dirty, target);
                lock (cache._backing)
                {
                    foreach (IMemoryOwner<byte> page in pages)
                    {
                        cache._backing.Write(page.Memory.Span);
                    }

                    if (cache._backing.Position > 64L << 20)
                    {
                        cache._backing.Position = 0; // the file is a writeback target, not an archive: keep it small
                    }
                }

                return new ReclaimResult(PageCache.Drop(pages));
            }
            finally
            {
                Interlocked.Decrement(ref cache._busy);
            }
        }
    }
}
