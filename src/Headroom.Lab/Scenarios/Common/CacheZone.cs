using Headroom.Lab.Running;

namespace Headroom.Lab.Scenarios.Common;

/// <summary>
/// A budget ("zone") with a page cache and the cache's two reclaimers registered: clean pages (domain "pagecache",
/// cost 1) and writeback of dirty pages (domain "fs", cost 2, does I/O). Both run in the charging thread, as Linux's
/// direct reclaim does, so that a recursion into writeback is a real one. Disposing unregisters them, drops the
/// cache and disposes the budget, in that order.
/// </summary>
internal sealed class CacheZone : IDisposable
{
    private readonly IDisposable _clean;
    private readonly IDisposable _writeback;

    public CacheZone(PolicyRun run, long capacity, Func<CancellationToken, IDisposable>? writebackLock, CancellationToken stop)
    {
        Budget = run.CreateBudget(new MemoryBudgetOptions { Name = "zone", Capacity = capacity, CanaryInterval = TimeSpan.FromMilliseconds(250) });
        Cache = new PageCache(Budget, writebackLock, stop);
        _clean = Budget.RegisterReclaimer(Cache.Clean, new ReclaimerOptions { Domain = PageCache.CleanDomain, Cost = 1, Timeout = Timeout.InfiniteTimeSpan });
        _writeback = Budget.RegisterReclaimer(Cache.Writeback, new ReclaimerOptions { Domain = PageCache.FsDomain, Cost = 2, DoesIo = true, Timeout = Timeout.InfiniteTimeSpan });
    }

    public MemoryBudget Budget { get; }

    public PageCache Cache { get; }

    public void Dispose()
    {
        _clean.Dispose();
        _writeback.Dispose();
        Cache.Dispose();
        Budget.Dispose();
    }
}
