using System.Buffers;
using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>
/// The filesystem's page cache over a real temporary file: pages are the transactions' own buffers, kept after commit.
/// Clean pages are cheap to drop; dirty pages must be written to the file and fsync'd first. It gives memory back
/// through two reclaimers: <see cref="CleanPages"/> (any context) and <see cref="DirtyPages"/> (domain
/// <see cref="FsDomain"/>, I/O), which a transaction in progress may not enter (GFP_NOFS), as in XFS.
/// </summary>
/// <remarks>
/// Lock order: <c>_io</c> (one writer of the file at a time) before <c>_sync</c> (the page lists). Commits take only
/// <c>_sync</c> and never allocate under it, so reclaim never waits for a flow that waits for memory.
/// </remarks>
internal sealed class PageCache : IDisposable
{
    /// <summary>The reclaim domain of writeback: transactions open <see cref="AllocationScope.NoReclaim"/> for it.</summary>
    public const string FsDomain = "fs";

    /// <summary>The domain of dropping clean pages: no I/O, no filesystem lock, allowed everywhere.</summary>
    public const string CleanDomain = "pagecache";

    /// <summary>The most dirty pages one writeback (reclaim or flusher) writes before its fsync.</summary>
    private const int WritebackBatch = 32;

    private readonly object _sync = new();
    private readonly SemaphoreSlim _io = new(1, 1);
    private readonly Dictionary<int, Page> _pages = [];
    private readonly LinkedList<Page> _clean = new(); // oldest first: reclaim drops from the front
    private readonly LinkedList<Page> _dirty = new(); // oldest dirtied first: writeback starts there
    private readonly SafeFileHandle _file;
    private readonly CancellationTokenSource _closing = new();
    private int _inFlight;
    private bool _closed;
    private long _pagesWritten;
    private long _fsyncs;
    private long _cleanDropped;
    private long _dirtyDropped;

    public PageCache(string path)
    {
        Path = path;
        _file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose,
            preallocationSize: (long)TransactionSizing.FilePages * TransactionSizing.PageBytes);
        CleanPages = new CleanReclaimer(this);
        DirtyPages = new DirtyReclaimer(this);
    }

    public string Path { get; }

    public IMemoryReclaimer CleanPages { get; }

    public IMemoryReclaimer DirtyPages { get; }

    public long PagesWritten => Interlocked.Read(ref _pagesWritten);

    public long Fsyncs => Interlocked.Read(ref _fsyncs);

    public long CleanDropped => Interlocked.Read(ref _cleanDropped);

    public long DirtyDropped => Interlocked.Read(ref _dirtyDropped);

    /// <summary>Reclaim calls running now (the library's background worker may call at any time).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public (int Clean, int Dirty) Count
    {
        get
        {
            lock (_sync)
            {
                return (_clean.Count, _dirty.Count);
            }
        }
    }

    /// <summary>What both reclaimers could free now, bytes.</summary>
    public long ReclaimableBytes
    {
        get
        {
            (int clean, int dirty) = Count;
            return (long)(clean + dirty) * TransactionSizing.PageBytes;
        }
    }

    /// <summary>
    /// A commit's dirty pages: a page already cached takes a copy of the buffer (the caller frees the buffer); a page
    /// not cached keeps the buffer itself (its slot is set to null: the cache owns it now).
    /// </summary>
    public void Write(TransactionShape shape, Span<IMemoryOwner<byte>?> buffers)
    {
        lock (_sync)
        {
            Debug.Assert(_pages.Count == _clean.Count + _dirty.Count, "every cached page is on one list");
            ObjectDisposedException.ThrowIf(_closed, this);
            for (int k = 0; k < buffers.Length; k++)
            {
                int index = shape.Page(k);
                if (_pages.TryGetValue(index, out Page? page))
                {
                    buffers[k]!.Memory.Span.CopyTo(page.Memory.Memory.Span);
                    page.Version++;
                    if (!page.Dirty)
                    {
                        _clean.Remove(page.Node);
                        page.Dirty = true;
                        _dirty.AddLast(page.Node);
                    }
                }
                else
                {
                    page = new Page(index, buffers[k]!) { Dirty = true };
                    buffers[k] = null;
                    _pages.Add(index, page);
                    _dirty.AddLast(page.Node);
                }
            }
        }
    }

    /// <summary>
    /// Linux's flusher threads: every <paramref name="interval"/>, writes the oldest dirty pages back and keeps them as
    /// clean pages, so that reclaim finds cheap pages to drop. Ends when <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async Task FlushAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
                await _io.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    CleanOldest();
                }
                finally
                {
                    _io.Release();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // the run is ending
        }
    }

    /// <summary>Frees every page (the run is over); returns how many there were.</summary>
    public int DropAll()
    {
        List<Page> all;
        lock (_sync)
        {
            _closed = true;
            all = [.. _pages.Values];
            _pages.Clear();
            _clean.Clear();
            _dirty.Clear();
        }

        foreach (Page page in all)
        {
            page.Memory.Dispose();
        }

        return all.Count;
    }

    /// <summary>Waits until no reclaim call runs, at most <paramref name="timeout"/>; false when one still does.</summary>
    public async Task<bool> QuiesceAsync(TimeSpan timeout)
    {
        _closing.Cancel(); // a writeback waiting for the file gives up
        long until = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (InFlight > 0)
        {
            if (Stopwatch.GetTimestamp() > until)
            {
                return false;
            }

            await Task.Delay(1).ConfigureAwait(false);
        }

        return true;
    }

    public void Dispose()
    {
        DropAll();
        _file.Dispose(); // DeleteOnClose removes the file
        _io.Dispose();
        _closing.Dispose();
    }

    private void CleanOldest()
    {
        (Page Page, int Version)[] batch;
        lock (_sync)
        {
            if (_closed || _dirty.Count == 0)
            {
                return;
            }

            batch = new (Page, int)[Math.Min(WritebackBatch, _dirty.Count)];
            LinkedListNode<Page>? node = _dirty.First;
            for (int i = 0; i < batch.Length; i++, node = node.Next)
            {
                batch[i] = (node!.Value, node.Value.Version);
            }
        }

        // The pages stay cached while they are written: only this writer (holding _io) may drop a dirty page, so
        // their memory lives until it is done. A commit may copy into one meanwhile; its version then differs.
        foreach ((Page page, _) in batch)
        {
            WritePage(page);
        }

        Fsync();
        lock (_sync)
        {
            foreach ((Page page, int version) in batch)
            {
                if (page.Dirty && page.Version == version && _pages.TryGetValue(page.Index, out Page? cached) && cached == page)
                {
                    _dirty.Remove(page.Node);
                    page.Dirty = false;
                    _clean.AddLast(page.Node);
                }
            }
        }
    }

    private long ReclaimClean(long target)
    {
        var dropped = new List<Page>();
        lock (_sync)
        {
            for (long taken = 0; taken < target && _clean.First is { } node; taken += TransactionSizing.PageBytes)
            {
                _clean.RemoveFirst();
                _pages.Remove(node.Value.Index);
                dropped.Add(node.Value);
            }
        }

        Interlocked.Add(ref _cleanDropped, dropped.Count);
        return Free(dropped);
    }

    private long ReclaimDirty(long target, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        try
        {
            _io.Wait(stop.Token);
        }
        catch (OperationCanceledException)
        {
            return 0; // abandoned by the library, or the run is ending
        }

        try
        {
            var written = new List<Page>();
            lock (_sync)
            {
                long pages = Math.Clamp((target + TransactionSizing.PageBytes - 1) / TransactionSizing.PageBytes, 1, WritebackBatch);
                while (written.Count < pages && _dirty.First is { } node)
                {
                    // Out of the cache before the write: a commit to the same page meanwhile makes a new page.
                    _dirty.RemoveFirst();
                    _pages.Remove(node.Value.Index);
                    written.Add(node.Value);
                }
            }

            foreach (Page page in written)
            {
                WritePage(page);
            }

            if (written.Count > 0)
            {
                Fsync();
            }

            Interlocked.Add(ref _dirtyDropped, written.Count);
            return Free(written);
        }
        finally
        {
            _io.Release();
        }
    }

    private void WritePage(Page page)
    {
        RandomAccess.Write(_file, page.Memory.Memory.Span, (long)page.Index * TransactionSizing.PageBytes);
        Interlocked.Increment(ref _pagesWritten);
    }

    private void Fsync()
    {
        RandomAccess.FlushToDisk(_file);
        Interlocked.Increment(ref _fsyncs);
    }

    /// <summary>Frees pages; returns the bytes that left the budget (a mempool keeps what refills it to its minimum).</summary>
    private static long Free(List<Page> pages)
    {
        long freed = 0;
        foreach (Page page in pages)
        {
            if (page.Memory is not PooledBuffer { RefillsPool: true })
            {
                freed += TransactionSizing.PageBytes;
            }

            page.Memory.Dispose();
        }

        return freed;
    }

    private ReclaimResult Reclaim(bool dirty, long target, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            if (Volatile.Read(ref _closed))
            {
                return ReclaimResult.Stop;
            }

            return new ReclaimResult(dirty ? ReclaimDirty(target, cancellationToken) : ReclaimClean(target));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private sealed class Page
    {
        public Page(int index, IMemoryOwner<byte> memory)
        {
            Index = index;
            Memory = memory;
            Node = new LinkedListNode<Page>(this);
        }

        public int Index { get; }

        public IMemoryOwner<byte> Memory { get; }

        public LinkedListNode<Page> Node { get; }

        public bool Dirty { get; set; }

        /// <summary>Bumped by each commit that writes the page; a writeback cleans it only if nobody wrote it meanwhile.</summary>
        public int Version { get; set; }
    }

    private sealed class CleanReclaimer(PageCache cache) : IMemoryReclaimer
    {
        public long GetReclaimableBytes() => (long)cache.Count.Clean * TransactionSizing.PageBytes;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => cache.Reclaim(dirty: false, target, cancellationToken);
    }

    private sealed class DirtyReclaimer(PageCache cache) : IMemoryReclaimer
    {
        public long GetReclaimableBytes() => (long)cache.Count.Dirty * TransactionSizing.PageBytes;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => cache.Reclaim(dirty: true, target, cancellationToken);
    }
}
