using System.Buffers;
using System.Diagnostics;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Common;

namespace Headroom.Lab.Scenarios.ReclaimRecursion;

/// <summary>
/// Scenario 2, GFP_NOFS: the filesystem holds its journal lock and charges memory for its log; its own writeback
/// reclaimer (domain "fs") needs that lock to write dirty pages. The reclaimers run in the charging thread (direct
/// reclaim, as in Linux), so with <c>no-scope</c> the recursion into writeback waits for a lock its own thread holds:
/// a real deadlock, which the watchdog declares and the run's token unwinds. <c>nofs-scope</c> opens
/// <c>AllocationScope.NoReclaim("fs")</c> while it holds the lock, so reclaim skips writeback and drops clean pages.
/// </summary>
internal sealed class ReclaimRecursionScenario : IScenario
{
    private const long DefaultCapacity = 16L << 20;
    private const int LogBuffer = 64 << 10;

    public string Name => "reclaim-recursion";

    public string Title => "Reclaim recursion (GFP_NOFS)";

    public string Why =>
        "A filesystem that allocates while holding its journal lock must not be asked, by the reclaim its own allocation " +
        "starts, to write back dirty pages: writeback needs the same lock, and the thread waits for itself. Linux marks such " +
        "code GFP_NOFS, now as a memalloc_nofs_save() scope; Headroom's is AllocationScope.NoReclaim(\"fs\"). Without the " +
        "scope the lab's run deadlocks for real, and its watchdog must say so.";

    public IReadOnlyList<string> Variants => [];

    public IReadOnlyList<string> Policies => ["no-scope", "nofs-scope"];

    public TimeSpan StallAfter => TimeSpan.FromSeconds(1.5);

    public Task RunAsync(PolicyRun run, CancellationToken cancellationToken)
    {
        bool scoped = run.Policy switch
        {
            "no-scope" => false,
            "nofs-scope" => true,
            _ => throw new ArgumentOutOfRangeException(nameof(run), run.Policy, $"Unknown policy of {Name}."),
        };

        long capacity = run.Settings.Capacity ?? DefaultCapacity;
        long targetOps = (long)Math.Max(1, run.Settings.Size * 100_000);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var journal = new JournalLock(run);
        using var zone = new CacheZone(run, capacity, token => journal.Acquire(token), stop.Token);
        MemoryBudget budget = zone.Budget;
        PageCache cache = zone.Cache;
        var threads = new Workers(stop.Token);
        var clock = Stopwatch.StartNew();
        bool Done() => stop.IsCancellationRequested || clock.Elapsed >= run.Settings.Duration || run.Operations >= targetOps;

        try
        {
            // Reads of other files keep memory full of clean pages.
            threads.Start("reader", () =>
            {
                Random random = run.NewRandom(1000);
                while (!Done())
                {
                    for (int i = 0; i < 64 && cache.TryAdd(dirty: false, (byte)random.Next()); i++)
                    {
                    }

                    Thread.Sleep(1);
                }
            });

            for (int w = 0; w < run.Settings.Threads; w++)
            {
                int worker = w;
                threads.Start($"fs-{worker}", () => Work(run, budget, cache, journal, scoped, worker, Done, stop.Token));
            }

            threads.JoinAll(TimeSpan.FromSeconds(30));
        }
        finally
        {
            stop.Cancel();
            threads.JoinAll(TimeSpan.FromSeconds(30));
        }

        return Task.CompletedTask;
    }

    private static void Work(PolicyRun run, MemoryBudget budget, PageCache cache, JournalLock journal, bool scoped, int worker, Func<bool> done, CancellationToken stop)
    {
        Random random = run.NewRandom(worker);
        string me = $"fs-{worker}";
        var log = new List<IMemoryOwner<byte>>(8);
        while (!done())
        {
            long started = PolicyRun.Start();
            int dataPages = random.Next(4, 16);
            int logBuffers = random.Next(2, 6);

            // Dirty throttling (Linux's balance_dirty_pages): past a quarter of memory dirty, the writer writes back
            // some itself first, outside the journal lock, so that the cache stays mostly clean.
            long excess = cache.DirtyBytes - (budget.Capacity / 4);
            if (excess > 0)
            {
                run.Activity(me, "throttled: writing back dirty pages itself (takes the journal lock)");
                cache.Writeback.Reclaim(excess, stop);
            }

            // The write's data: pages of the file, dirty in the cache (charged outside the journal lock).
            run.Activity(me, $"charging {dataPages} data pages (NoFail), not holding the journal lock");
            for (int i = 0; i < dataPages; i++)
            {
                IMemoryOwner<byte> page = budget.Rent(PageCache.PageSize, AllocationMode.NoFail, site: "fs-data", cancellationToken: stop);
                page.Memory.Span.Fill((byte)i);
                cache.Add(page, dirty: true);
            }

            // The transaction's log, charged while holding the journal lock.
            using (journal.Acquire(stop))
            {
                AllocationScope? nofs = scoped ? AllocationScope.NoReclaim(PageCache.FsDomain) : null;
                try
                {
                    run.Activity(me, $"holds the journal lock; charging {logBuffers} × {LogBuffer >> 10} KiB of log (NoFail){(scoped ? " inside NoReclaim(\"fs\")" : " with no scope")}");
                    for (int i = 0; i < logBuffers; i++)
                    {
                        IMemoryOwner<byte> buffer = budget.Rent(LogBuffer, AllocationMode.NoFail, site: "journal", cancellationToken: stop);
                        buffer.Memory.Span.Fill((byte)i);
                        log.Add(buffer);
                    }
                }
                finally
                {
                    nofs?.Dispose();
                    foreach (IMemoryOwner<byte> buffer in log)
                    {
                        buffer.Dispose(); // the log is committed: its buffers go back
                    }

                    log.Clear();
                }
            }

            run.Completed(started);
        }
    }

    /// <summary>The journal lock: not re-entrant (a thread that holds it and asks again waits for itself), every wait cancellable.</summary>
    private sealed class JournalLock(PolicyRun run) : IDisposable
    {
        private readonly SemaphoreSlim _lock = new(1, 1);
        private volatile string? _holder;

        public IDisposable Acquire(CancellationToken cancellationToken)
        {
            string me = Thread.CurrentThread.IsThreadPoolThread || Thread.CurrentThread.Name is null
                ? $"background reclaim (pool thread {Environment.CurrentManagedThreadId})"
                : Thread.CurrentThread.Name;
            if (!_lock.Wait(0, CancellationToken.None))
            {
                string? holder = _holder;
                string note = holder == me ? $"in reclaim, waiting for the journal lock that {me} itself holds (recursion: it will never be released)" : $"waiting for the journal lock, held by {holder ?? "(releasing)"}";
                run.Activity(me, note);
                _lock.Wait(cancellationToken);
            }

            _holder = me;
            return new Release(this);
        }

        public void Dispose() => _lock.Dispose();

        private sealed class Release(JournalLock owner) : IDisposable
        {
            private int _done;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _done, 1) == 0)
                {
                    owner._holder = null;
                    owner._lock.Release();
                }
            }
        }
    }
}
