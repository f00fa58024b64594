using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Reclaim;

/// <summary>
/// The article's recursion deadlock: a filesystem holds its journal lock and charges memory; its own reclaimer
/// (writeback) needs that lock. GFP_NOFS done right: inside NoReclaim("fs") the charge is satisfied from other
/// reclaimers; without the scope the stall is reported by the canary instead of hanging silently.
/// </summary>
public sealed class RecursionDeadlockTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new();
    private readonly FakeLogger _logger = new();
    private readonly SemaphoreSlim _journal = new(1, 1); // not re-entrant, as a journal lock

    public void Dispose() => _journal.Dispose();

    private MemoryBudget Create() => new(new MemoryBudgetOptions
    {
        Capacity = 1000,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
        CanaryInterval = TimeSpan.FromSeconds(10),
        TimeProvider = _clock,
        Logger = _logger,
    });

    private TestCache Writeback(MemoryBudget budget, long dirty)
    {
        var writeback = new TestCache(budget, dirty) { During = _ => _journal.Wait() };
        writeback.During += _ => _journal.Release();
        budget.RegisterReclaimer(writeback, new ReclaimerOptions { Domain = "fs", Cost = 1, DoesIo = true, Timeout = TimeSpan.FromSeconds(5) });
        return writeback;
    }

    [Fact]
    public async Task Inside_NoReclaim_fs_the_charge_is_satisfied_by_other_reclaimers()
    {
        using MemoryBudget budget = Create();
        TestCache writeback = Writeback(budget, 300);
        var pageCache = new TestCache(budget, 300);
        budget.RegisterReclaimer(pageCache, new ReclaimerOptions { Domain = "page-cache", Cost = 4, Timeout = Timeout.InfiniteTimeSpan });
        budget.Charge(400, AllocationMode.NoWait);

        await _journal.WaitAsync();
        using (AllocationScope.NoReclaim("fs"))
        {
            await budget.ChargeAsync(200, AllocationMode.NoFail, site: "journal"); // never touches writeback
        }

        _journal.Release();
        Assert.Empty(writeback.Asked);
        Assert.Equal(100, pageCache.Cached);

        budget.Uncharge(600);
        writeback.Drop();
        pageCache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Without_the_scope_the_stall_is_reported_by_the_canary_instead_of_hanging()
    {
        using MemoryBudget budget = Create();
        TestCache writeback = Writeback(budget, 300);
        budget.Charge(700, AllocationMode.NoWait);

        await _journal.WaitAsync();
        Task charge = Task.Run(() => budget.Charge(200, AllocationMode.NoFail, site: "journal")); // writeback blocks on our lock
        for (int i = 0; i < 500 && !_logger.Collector.GetSnapshot().Any(r => r.Message.Contains("stall", StringComparison.Ordinal)); i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1)); // past writeback's timeout, then past the canary interval
            await Task.Delay(10);
        }

        FakeLogRecord stall = Assert.Single(_logger.Collector.GetSnapshot(), r => r.Message.Contains("stall", StringComparison.Ordinal));
        Assert.Contains("journal", stall.Message, StringComparison.Ordinal);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Message.Contains("abandoned", StringComparison.Ordinal));
        Assert.False(charge.IsCompleted);

        _journal.Release(); // the operator's way out: writeback gets the lock, frees, and the waiter is granted
        for (int i = 0; i < 500 && !charge.IsCompleted; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1)); // writeback's backoff ends; the canary's tick asks background reclaim again
            await Task.Delay(10);
        }

        await charge.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1000, budget.Used);

        budget.Uncharge(900);
        writeback.Drop();
        TestBudgets.AssertEmpty(budget);
    }
}
