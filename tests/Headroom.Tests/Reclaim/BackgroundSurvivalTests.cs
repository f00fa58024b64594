using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Reclaim;

/// <summary>Issue 10 items 7 and 8: background reclaim outlives its reclaimers' faults, and retries on its own timer.</summary>
public sealed class BackgroundSurvivalTests
{
    private readonly FakeTimeProvider _clock = new();
    private readonly FakeLogger _logger = new();

    /// <summary>Capacity 1000, min 100, low 200, high 300; canary off; the fake clock and logger.</summary>
    private MemoryBudget Create() => new(new MemoryBudgetOptions
    {
        Name = "survivor",
        Capacity = 1000,
        MinWatermark = 100,
        LowWatermark = 200,
        HighWatermark = 300,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        TimeProvider = _clock,
        Logger = _logger,
    });

    [Fact]
    public async Task An_OutOfMemoryException_from_a_reclaimer_does_not_stop_background_reclaim_and_is_logged_once_per_interval()
    {
        using MemoryBudget budget = Create();
#pragma warning disable CA2201 // a reclaimer throwing what the runtime throws when a real allocation fails is the point
        var cache = new TestCache(budget, 500) { During = _ => throw new OutOfMemoryException("reclaimer's own") };
#pragma warning restore CA2201
        using IDisposable registration = budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "oom-thrower", Timeout = Timeout.InfiniteTimeSpan });
        Headroom.Reclaim.BackgroundReclaim worker = budget.Tree.Reclaimers.Background;

        budget.Charge(350, AllocationMode.NoWait); // 850 committed: below low, the worker wakes and the reclaimer throws
        await Until(() => cache.Asked.Count >= 1 && !worker.IsRunning);
        for (int round = 2; round <= 3; round++)
        {
            _clock.Advance(TimeSpan.FromSeconds(4.5)); // past the level's rest and the reclaimer's backoff (1 s, then 2 s)
            budget.Uncharge(10);
            budget.Charge(10, AllocationMode.NoWait); // below low again: a new wake
            await Until(() => cache.Asked.Count >= round && !worker.IsRunning);
        }

        Assert.Equal(850, budget.Used);
        int logged = _logger.Collector.GetSnapshot().Count(r => r.Exception is OutOfMemoryException);
        Assert.Equal(1, logged); // three faults within 10 s: one message

        cache.During = null;
        _clock.Advance(TimeSpan.FromSeconds(10));
        budget.Uncharge(10);
        budget.Charge(10, AllocationMode.NoWait);
        await Until(() => budget.Free >= budget.HighWatermark && !worker.IsRunning);
        Assert.Equal(budget.HighWatermark, budget.Free); // the worker is alive and reclaims up to high
        Assert.Equal(350, cache.Cached); // the independent ledger: 850 charged, 700 left, so the cache gave exactly 150

        budget.Uncharge(350);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_waiter_behind_a_fruitless_pass_is_retried_on_the_budgets_clock_with_the_canary_off()
    {
        using MemoryBudget budget = new(new MemoryBudgetOptions
        {
            Name = "retry",
            Capacity = 1000,
            MinWatermark = 0,
            LowWatermark = 0,
            HighWatermark = 0,
            CanaryInterval = Timeout.InfiniteTimeSpan,
            TimeProvider = _clock,
        });
        var cache = new PinnedCache(new TestCache(budget, 1000)) { Pinned = true };
        using IDisposable registration = budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "pinned", Timeout = Timeout.InfiniteTimeSpan });
        Headroom.Reclaim.BackgroundReclaim worker = budget.Tree.Reclaimers.Background;

        Task charge = budget.ChargeAsync(100, AllocationMode.NoFail).AsTask(); // nothing reclaimable, no victim: it parks
        await Until(() => worker.Passes >= 1 && !worker.IsRunning); // the worker's pass found nothing: the level rests
        Assert.False(charge.IsCompleted);

        cache.Pinned = false; // now the cache could give, but no charge or uncharge happens to wake anyone
        _clock.Advance(TimeSpan.FromSeconds(1));
        await charge.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(900, cache.Inner.Cached); // the independent ledger: exactly what the waiter needed was freed

        budget.Uncharge(100);
        cache.Inner.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    internal static async Task Until(Func<bool> condition)
    {
        for (int i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "background reclaim did not get there within 10 s");
    }

    /// <summary>A cache that hides what it holds while pinned.</summary>
    private sealed class PinnedCache(TestCache inner) : IMemoryReclaimer
    {
        internal TestCache Inner => inner;

        internal volatile bool Pinned;

        public long GetReclaimableBytes() => Pinned ? 0 : inner.GetReclaimableBytes();

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => Pinned ? default : inner.Reclaim(target, cancellationToken);
    }
}
