namespace Headroom.Tests.Reclaim;

/// <summary>Semantics §2 and §6: background reclaim wakes when a grant leaves less than low free, works up to high, then sleeps.</summary>
public sealed class BackgroundReclaimTests
{
    [Fact]
    public async Task Background_reclaim_wakes_at_low_stops_at_high_and_then_sleeps()
    {
        using MemoryBudget budget = TestBudgets.Small(); // capacity 1000, min 100, low 200, high 300
        var cache = new TestCache(budget, 500);
        using IDisposable registration = budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "cache", Timeout = Timeout.InfiniteTimeSpan });
        Headroom.Reclaim.BackgroundReclaim worker = budget.Tree.Reclaimers.Background;

        budget.Charge(300, AllocationMode.NoWait); // 800 committed: exactly low free, no wake
        Assert.Equal(0, worker.Passes);

        budget.Charge(50, AllocationMode.MayFail); // 850: below low
        await Until(() => budget.Free >= budget.HighWatermark && !worker.IsRunning);
        Assert.Equal(budget.HighWatermark, budget.Free); // reclaimed exactly up to high, no further
        Assert.Equal(350, cache.Cached);
        long passes = worker.Passes;
        Assert.True(passes >= 1);

        budget.Uncharge(50); // nothing to do: it stays asleep
        budget.Charge(10, AllocationMode.NoWait);
        await Task.Delay(50);
        Assert.False(worker.IsRunning);
        Assert.Equal(passes, worker.Passes);

        budget.Uncharge(310);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Without_reclaimers_nothing_is_woken()
    {
        using MemoryBudget budget = TestBudgets.Small();
        budget.Charge(900, AllocationMode.NoWait);
        await Task.Delay(20);
        Assert.Equal(0, budget.Tree.Reclaimers.Background.Passes);
        budget.Uncharge(900);
        TestBudgets.AssertEmpty(budget);
    }

    private static async Task Until(Func<bool> condition)
    {
        for (int i = 0; i < 3000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "background reclaim did not finish within 30 s");
    }
}
