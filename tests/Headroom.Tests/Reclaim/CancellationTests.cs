namespace Headroom.Tests.Reclaim;

/// <summary>Issue 10: a caller's token cancelled during direct reclaim ends the charge with OperationCanceledException, not a refusal.</summary>
public sealed class CancellationTests
{
    [Theory]
    [InlineData(AllocationMode.MayFail)]
    [InlineData(AllocationMode.RetryMayFail)]
    public void Cancelled_during_reclaim_the_sync_charge_throws_OperationCanceledException(AllocationMode mode)
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        using var cts = new CancellationTokenSource();
        var cache = new TestCache(budget, 1000) { During = _ => cts.Cancel(), PerCall = 0 }; // cancels, frees nothing
        using IDisposable registration = budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "cache", Timeout = Timeout.InfiniteTimeSpan });

        Assert.Throws<OperationCanceledException>(() => budget.Charge(100, mode, cancellationToken: cts.Token));
        Assert.Equal(1000, budget.Used); // nothing changed: only the cache's charge

        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Theory]
    [InlineData(AllocationMode.MayFail)]
    [InlineData(AllocationMode.RetryMayFail)]
    public async Task Cancelled_during_reclaim_the_async_charge_is_cancelled(AllocationMode mode)
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        using var cts = new CancellationTokenSource();
        var cache = new TestCache(budget, 1000) { During = _ => cts.Cancel(), PerCall = 0 };
        using IDisposable registration = budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "cache", Timeout = Timeout.InfiniteTimeSpan });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await budget.ChargeAsync(100, mode, cancellationToken: cts.Token));
        Assert.Equal(1000, budget.Used);

        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }
}
