using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

using Headroom.Tests;

namespace Headroom.Extensions.Hosting.Tests.Caching;

/// <summary>
/// The ready reclaimer for <see cref="MemoryCache"/>, against a real cache: what the cache holds is charged, direct
/// reclaim compacts it, accounting follows every eviction exactly, and disposal returns every byte.
/// </summary>
public sealed class MemoryCacheReclaimerTests
{
    private static readonly ReclaimerOptions Inline = new() { Domain = "cache", Timeout = Timeout.InfiniteTimeSpan };

    private static MemoryBudget Budget(long capacity, FakeLogger? logger = null) => new(new MemoryBudgetOptions
    {
        Capacity = capacity,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        Logger = logger,
    });

    private static MemoryCache Cache(long sizeLimit = 1_000_000) =>
        new(Options.Create(new MemoryCacheOptions { SizeLimit = sizeLimit, TrackStatistics = true }));

    private static long SizeOf(MemoryCache cache) => cache.GetCurrentStatistics()!.CurrentEstimatedSize!.Value;

    [Fact]
    public void Entries_added_through_TrySet_are_charged_and_cached()
    {
        using MemoryBudget budget = Budget(10_000);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);

        Assert.True(reclaimer.TrySet("a", "alpha", 100));
        Assert.True(reclaimer.TrySet("b", "beta", 250, new MemoryCacheEntryOptions { Priority = CacheItemPriority.High }));

        Assert.Equal(350, budget.Used);
        Assert.Equal(350, reclaimer.Charged);
        Assert.Equal(350, reclaimer.GetReclaimableBytes());
        Assert.Equal(350, SizeOf(cache));
        Assert.Equal("alpha", cache.Get("a"));
        Assert.Equal("beta", cache.Get("b"));

        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_TrySet_the_budget_refuses_leaves_the_cache_untouched()
    {
        using MemoryBudget budget = Budget(1000);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        budget.Charge(900, AllocationMode.NoWait);

        Assert.False(reclaimer.TrySet("a", "alpha", 200)); // MayFail: one pass of reclaim finds nothing
        Assert.Equal(0, cache.Count);
        Assert.Equal(0, reclaimer.Charged);
        Assert.Equal(900, budget.Used);

        Assert.Throws<ArgumentOutOfRangeException>(() => reclaimer.TrySet("b", "beta", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => reclaimer.TrySet("b", "beta", 1001));
        Assert.Equal(0, cache.Count);

        budget.Uncharge(900);
        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Theory]
    [InlineData(AllocationMode.MayFail)]
    [InlineData(AllocationMode.RetryMayFail)]
    public void A_charge_on_a_full_budget_compacts_the_cache_through_direct_reclaim(AllocationMode mode)
    {
        var logger = new FakeLogger();
        using MemoryBudget budget = Budget(1000, logger);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, new ReclaimerOptions { Domain = "cache", Timeout = Timeout.InfiniteTimeSpan });
        for (int i = 0; i < 10; i++)
        {
            Assert.True(reclaimer.TrySet(i, $"value {i}", 100));
        }

        Assert.Equal(1000, budget.Used);

        Assert.True(budget.TryCharge(250, mode));

        // The priority loop asks for 2 bytes (1000 >> 9, × 4 / cost 2), then 6, then 12: each compaction removes one
        // whole entry of 100 bytes, until 300 are free.
        Assert.Equal(7, cache.Count);
        Assert.Equal(700, reclaimer.Charged);
        Assert.Equal(700, SizeOf(cache));
        Assert.Equal(950, budget.Used);
        Assert.Empty(logger.Collector.GetSnapshot()); // no fault, no timeout, never claimed more than it uncharged

        budget.Uncharge(250);
        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Reclaim_on_the_thread_pool_counts_its_progress_too()
    {
        var logger = new FakeLogger();
        using MemoryBudget budget = Budget(1000, logger);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, new ReclaimerOptions { Domain = "cache", Timeout = TimeSpan.FromSeconds(30) });
        for (int i = 0; i < 4; i++)
        {
            Assert.True(reclaimer.TrySet(i, null, 250));
        }

        budget.Charge(500, AllocationMode.RetryMayFail);

        Assert.Equal(2, cache.Count);
        Assert.Equal(1000, budget.Used);
        Assert.Empty(logger.Collector.GetSnapshot());

        budget.Uncharge(500);
        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_NoReclaim_scope_for_the_cache_domain_keeps_reclaim_off_the_cache()
    {
        using MemoryBudget budget = Budget(1000);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, Inline);
        Assert.True(reclaimer.TrySet("a", null, 600));
        Assert.True(reclaimer.TrySet("b", null, 400));

        using (AllocationScope.NoReclaim("cache"))
        {
            Assert.False(budget.TryCharge(100, AllocationMode.MayFail));
            Assert.False(reclaimer.TrySet("c", null, 100)); // nor does the cache make room for itself
        }

        Assert.Equal(2, cache.Count);
        Assert.Equal(1000, budget.Used);

        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Reclaim_frees_whole_entries_and_stops_when_nothing_is_left()
    {
        using MemoryBudget budget = Budget(10_000);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        Assert.True(reclaimer.TrySet("a", null, 100));
        Assert.True(reclaimer.TrySet("b", null, 100));
        Assert.True(reclaimer.TrySet("pinned", null, 100, new MemoryCacheEntryOptions { Priority = CacheItemPriority.NeverRemove }));

        Assert.Equal(new ReclaimResult(100), reclaimer.Reclaim(1, CancellationToken.None)); // one entry is the least it can free
        Assert.Equal(200, budget.Used);
        Assert.Equal(new ReclaimResult(100), reclaimer.Reclaim(10_000, CancellationToken.None)); // all but the pinned one
        Assert.Equal(100, budget.Used);
        Assert.Equal(ReclaimResult.Stop, reclaimer.Reclaim(100, CancellationToken.None)); // Compact never removes NeverRemove
        Assert.Equal(100, budget.Used);
        Assert.True(cache.TryGetValue("pinned", out _));

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        cache.Remove("pinned");
        Assert.Equal(new ReclaimResult(100), reclaimer.Reclaim(1, cancelled.Token)); // what the cache already shed still counts
        Assert.Equal(ReclaimResult.Stop, reclaimer.Reclaim(1, CancellationToken.None));

        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Accounting_is_exact_after_removal_replacement_and_eviction()
    {
        using MemoryBudget budget = Budget(10_000);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        Assert.True(reclaimer.TrySet("a", null, 100));
        Assert.True(reclaimer.TrySet("b", null, 200));
        Assert.True(reclaimer.TrySet("c", null, 300));

        cache.Remove("b");
        reclaimer.Reconcile();
        Assert.Equal(400, budget.Used);

        Assert.True(reclaimer.TrySet("a", null, 50)); // replaced: 50 + 300
        Assert.Equal(350, budget.Used);
        Assert.Equal(350, reclaimer.Charged);

        cache.Compact(0.5); // one of the two entries, the least recently used
        reclaimer.Reconcile();
        Assert.Equal(SizeOf(cache), budget.Used);
        Assert.Equal(1, cache.Count);

        cache.Clear(); // evictions reconcile on their own, from the eviction callbacks on the thread pool
        Assert.True(SpinWait.SpinUntil(() => reclaimer.Charged == 0, TimeSpan.FromSeconds(10)), $"still charged: {reclaimer.Charged}");
        Assert.Equal(0, budget.Used);

        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void An_entry_the_cache_itself_rejects_is_not_left_charged()
    {
        using MemoryBudget budget = Budget(10_000);
        using MemoryCache cache = Cache(sizeLimit: 500);
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        Assert.True(reclaimer.TrySet("a", null, 300));

        Assert.True(reclaimer.TrySet("b", null, 300)); // the cache is full: MemoryCache drops the new entry
        Assert.True(reclaimer.TrySet("huge", null, 600)); // above the cache's own size limit
        Assert.True(reclaimer.TrySet("stale", null, 100, new MemoryCacheEntryOptions { AbsoluteExpiration = DateTimeOffset.UtcNow.AddDays(-1) }));

        Assert.Equal(1, cache.Count);
        Assert.Equal(300, reclaimer.Charged);
        Assert.Equal(300, budget.Used);

        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Growth_added_straight_to_the_cache_is_charged_on_reconcile()
    {
        using MemoryBudget budget = Budget(1000);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        Assert.True(reclaimer.TrySet("a", null, 100));

        cache.Set("x", "direct", new MemoryCacheEntryOptions { Size = 400 });
        Assert.Equal(100, budget.Used); // unknown until reconciled
        reclaimer.Reconcile();

        Assert.Equal(500, reclaimer.Charged);
        Assert.Equal(500, budget.Used);
        Assert.Equal(2, cache.Count);

        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Growth_the_budget_refuses_is_compacted_away()
    {
        using MemoryBudget budget = Budget(1000);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        budget.Charge(800, AllocationMode.NoWait);
        Assert.True(reclaimer.TrySet("a", null, 100));

        cache.Set("x", "direct", new MemoryCacheEntryOptions { Size = 300 });
        reclaimer.Reconcile(); // 900 + 300 > 1000: refused, so the cache goes back to at most its charge

        Assert.InRange(SizeOf(cache), 0, 100);
        Assert.Equal(SizeOf(cache), reclaimer.Charged);
        Assert.Equal(800 + reclaimer.Charged, budget.Used);
        TestBudgets.AssertI1(budget);

        budget.Uncharge(800);
        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Refused_growth_that_Compact_cannot_remove_stays_uncharged_until_there_is_room()
    {
        using MemoryBudget budget = Budget(1000);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        budget.Charge(800, AllocationMode.NoWait);

        cache.Set("pinned", "direct", new MemoryCacheEntryOptions { Size = 300, Priority = CacheItemPriority.NeverRemove });
        reclaimer.Reconcile();
        Assert.Equal(0, reclaimer.Charged);
        Assert.Equal(800, budget.Used);
        Assert.True(cache.TryGetValue("pinned", out _));

        budget.Uncharge(800);
        reclaimer.Reconcile();
        Assert.Equal(300, reclaimer.Charged);
        Assert.Equal(300, budget.Used);

        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Dispose_uncharges_everything_and_leaves_the_cache_to_its_owner()
    {
        using MemoryBudget budget = Budget(10_000);
        using MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, Inline);
        Assert.True(reclaimer.TrySet("a", null, 100));
        Assert.True(reclaimer.TrySet("b", null, 200));

        reclaimer.Dispose();

        Assert.Equal(0, budget.Used);
        Assert.Equal(2, cache.Count);
        Assert.Equal(0, reclaimer.GetReclaimableBytes());
        Assert.Equal(ReclaimResult.Stop, reclaimer.Reclaim(100, CancellationToken.None));
        Assert.Equal(2, cache.Count);
        Assert.Throws<ObjectDisposedException>(() => reclaimer.TrySet("c", null, 100));
        Assert.Throws<ObjectDisposedException>(reclaimer.Reconcile);
        cache.Remove("a"); // its eviction callback finds the reclaimer disposed and does nothing
        reclaimer.Dispose();

        Assert.Equal(1, cache.Count);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void TrySet_on_a_disposed_cache_leaves_nothing_charged()
    {
        using MemoryBudget budget = Budget(10_000);
        MemoryCache cache = Cache();
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        Assert.True(reclaimer.TrySet("a", null, 100));
        cache.Dispose();

        Assert.Throws<ObjectDisposedException>(() => reclaimer.TrySet("b", null, 200));
        Assert.Equal(100, budget.Used);

        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_cache_without_a_size_limit_or_statistics_is_refused_with_the_rule()
    {
        using MemoryBudget budget = Budget(1000);
        using var unsized = new MemoryCache(Options.Create(new MemoryCacheOptions { TrackStatistics = true }));
        using var untracked = new MemoryCache(Options.Create(new MemoryCacheOptions { SizeLimit = 1000 }));
        using MemoryCache cache = Cache();

        ArgumentException noLimit = Assert.Throws<ArgumentException>(() => new MemoryCacheReclaimer(unsized, budget));
        Assert.Equal("cache", noLimit.ParamName);
        Assert.Contains("MemoryCacheOptions.SizeLimit set", noLimit.Message, StringComparison.Ordinal);

        ArgumentException noStatistics = Assert.Throws<ArgumentException>(() => new MemoryCacheReclaimer(untracked, budget));
        Assert.Equal("cache", noStatistics.ParamName);
        Assert.Contains("MemoryCacheOptions.TrackStatistics = true", noStatistics.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentNullException>(() => new MemoryCacheReclaimer(null!, budget));
        Assert.Throws<ArgumentNullException>(() => new MemoryCacheReclaimer(cache, null!));
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void What_the_cache_already_holds_is_charged_at_construction_or_refused_whole()
    {
        using MemoryBudget budget = Budget(1000);
        using MemoryCache cache = Cache();
        cache.Set("x", "direct", new MemoryCacheEntryOptions { Size = 300 });

        budget.Charge(800, AllocationMode.NoWait);
        Assert.Throws<MemoryAllocationException>(() => new MemoryCacheReclaimer(cache, budget));
        Assert.Equal(800, budget.Used);
        Assert.Equal(1, cache.Count);
        budget.Uncharge(800);

        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        Assert.Equal(300, reclaimer.Charged);
        Assert.Equal(300, budget.Used);

        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Concurrent_sets_removals_and_pressure_keep_the_charge_equal_to_the_cache()
    {
        using MemoryBudget budget = Budget(100_000);
        using MemoryCache cache = Cache(sizeLimit: 80_000);
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, Inline);

        Task[] workers = [.. Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            var random = new Random(w);
            for (int i = 0; i < 3000; i++)
            {
                int key = random.Next(200);
                switch (random.Next(4))
                {
                    case 0:
                    case 1:
                        reclaimer.TrySet(key, null, random.Next(1, 2000));
                        break;
                    case 2:
                        cache.Remove(key);
                        break;
                    default:
                        long bytes = random.Next(1, 30_000);
                        if (budget.TryCharge(bytes, AllocationMode.MayFail))
                        {
                            budget.Uncharge(bytes);
                        }

                        break;
                }

                TestBudgets.AssertI1(budget);
            }
        }))];
        await Task.WhenAll(workers);

        reclaimer.Reconcile();
        Assert.Equal(Math.Max(0, SizeOf(cache)), reclaimer.Charged);
        Assert.Equal(reclaimer.Charged, budget.Used);

        reclaimer.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Use_after_dispose_names_the_budget()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000, "engine");
        using MemoryCache cache = Cache(sizeLimit: 1000);
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        reclaimer.Dispose();

        var e = Assert.Throws<ObjectDisposedException>(() => reclaimer.TrySet("k", "v", 10));
        Assert.Contains("engine", e.ObjectName, StringComparison.Ordinal);
        Assert.Contains("reclaimer on budget 'engine' was disposed", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ObjectDisposedException>(reclaimer.Reconcile);
        Assert.Contains("engine", e.ObjectName, StringComparison.Ordinal);
        Assert.Equal(0, cache.Count);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_bad_entry_size_is_refused_under_its_own_parameter_name_and_nothing_is_charged()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        using MemoryCache cache = Cache(sizeLimit: 1000);
        using var reclaimer = new MemoryCacheReclaimer(cache, budget);
        foreach (long size in new[] { 0L, -5L, 1001L })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => reclaimer.TrySet("k", "v", size));
            Assert.Equal("size", e.ParamName);
            Assert.Equal(size, e.ActualValue);
        }

        Assert.Equal(0, cache.Count);
        TestBudgets.AssertEmpty(budget);
    }
}
