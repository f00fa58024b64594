using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Reclaim;

/// <summary>Issue 10 item 5: while one call of a reclaimer with a timeout is in flight, other charges join it instead of treating it as empty.</summary>
public sealed class BusyReclaimerTests
{
    [Theory]
    [InlineData(AllocationMode.RetryMayFail)]
    [InlineData(AllocationMode.NoFail)]
    public async Task A_second_charge_joins_the_call_in_flight_and_is_granted(AllocationMode mode)
    {
        var clock = new FakeTimeProvider(); // the 5 s timeout never runs out by itself
        MemoryBudgetOptions options = TestBudgets.Flat("busy", 1000);
        options.TimeProvider = clock;
        using MemoryBudget budget = new(options);
        using var gate = new SemaphoreSlim(0);
        var cache = new TestCache(budget, 900);
        cache.During = _ =>
        {
            if (cache.Asked.Count == 1)
            {
                gate.Wait(TimeSpan.FromSeconds(30)); // the first call stays in flight until the test lets it go
            }
        };
        using IDisposable registration = budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "cache" }); // finite timeout
        bool killed = false;
        using MemoryConsumer bystander = budget.RegisterConsumer("bystander", () => killed = true);
        TestBudgets.ChargeAs(bystander, budget, 100); // a killable bystander: a NoFail charge must not kill it while the cache can give

        Task first = Task.Run(() => budget.Charge(100, mode));
        await BackgroundSurvivalTests.Until(() => cache.Asked.Count == 1);
        Task second = Task.Run(() => budget.Charge(100, mode));
        await Task.Delay(100); // let the second charge find the first call in flight
        Assert.False(second.IsCompleted, second.Exception?.ToString()); // it waits for the call in flight, neither refused nor granted

        gate.Release();
        await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(bystander.IsKilled);
        Assert.False(killed);
        Assert.Equal(700, cache.Cached); // the independent ledger: 200 charged, so the cache gave exactly 200
        Assert.Equal(1000, budget.Used);

        budget.Uncharge(200);
        using (bystander.Enter())
        {
            budget.Uncharge(100);
        }

        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }
}
