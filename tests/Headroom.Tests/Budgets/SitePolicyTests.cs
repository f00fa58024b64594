using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Budgets;

/// <summary>Semantics §3, policy per site (XFS's error configuration): set at run time, it overrides the caller's mode.</summary>
public sealed class SitePolicyTests
{
    [Fact]
    public async Task Retry_forever_turns_a_failing_mode_into_a_wait()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);
        budget.SetSitePolicy("journal", new SitePolicy { RetryForever = true });

        Task wait = budget.ChargeAsync(10, AllocationMode.MayFail, site: "journal").AsTask();
        Assert.False(wait.IsCompleted);
        Assert.False(budget.TryCharge(10, AllocationMode.MayFail, site: "journal")); // TryCharge never waits
        Assert.Throws<MemoryAllocationException>(() => budget.Charge(10, AllocationMode.MayFail, site: "other"));

        budget.Uncharge(10);
        await wait;
        budget.SetSitePolicy("journal", null); // back to the caller's mode
        Assert.Throws<MemoryAllocationException>(() => budget.Charge(10, AllocationMode.MayFail, site: "journal"));

        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void At_most_N_retries_bounds_even_a_NoFail_charge()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        var cache = new FakeReclaim(budget, cached: 50) { PerPass = 0 }; // never frees
        budget.Charge(50, AllocationMode.NoWait);
        budget.SetSitePolicy("btree-split", new SitePolicy { MaxRetries = 3 });

        var e = Assert.Throws<MemoryAllocationException>(() => budget.Charge(10, AllocationMode.NoFail, site: "btree-split"));
        Assert.Equal(AllocationMode.NoFail, e.Mode); // the caller's mode; the policy bounded it
        Assert.Equal(3, cache.Passes);
        Assert.Equal(100, budget.Used);

        budget.Uncharge(50);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task At_most_T_waits_that_long_then_fails_leaving_nothing_behind()
    {
        var clock = new FakeTimeProvider();
        using var budget = new MemoryBudget(new MemoryBudgetOptions
        {
            Capacity = 100, MinWatermark = 0, LowWatermark = 0, HighWatermark = 0,
            CanaryInterval = Timeout.InfiniteTimeSpan, TimeProvider = clock,
        });
        budget.Charge(100, AllocationMode.NoWait);
        budget.SetSitePolicy("flush", new SitePolicy { MaxWait = TimeSpan.FromSeconds(5) });

        Task wait = budget.ChargeAsync(10, AllocationMode.MayFail, site: "flush").AsTask();
        Assert.Equal(1, budget.Queue.Count);
        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.False(wait.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(1));
        var e = await Assert.ThrowsAsync<MemoryAllocationException>(() => wait);
        Assert.Equal("flush", e.Site);
        Assert.Equal(0, budget.Queue.Count);

        Task granted = budget.ChargeAsync(10, AllocationMode.MayFail, site: "flush").AsTask();
        Assert.False(budget.TryCharge(10, AllocationMode.NoWait, site: "flush")); // NoWait cannot block: no policy makes it
        budget.Uncharge(10);
        await granted;

        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_NoWait_caller_is_never_made_to_block()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);
        budget.SetSitePolicy("irq", new SitePolicy { RetryForever = true });
        var e = Assert.Throws<MemoryAllocationException>(() => budget.Charge(10, AllocationMode.NoWait, site: "irq"));
        Assert.Equal(AllocationMode.NoWait, e.Mode);
        Assert.Equal(0, budget.Queue.Count);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Bad_policies_are_refused_by_name()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        Assert.Equal("MaxRetries", Assert.Throws<ArgumentOutOfRangeException>(() => budget.SetSitePolicy("s", new SitePolicy { MaxRetries = -1 })).ParamName);
        Assert.Equal("MaxWait", Assert.Throws<ArgumentOutOfRangeException>(() => budget.SetSitePolicy("s", new SitePolicy { MaxWait = TimeSpan.Zero })).ParamName);
        Assert.Equal("RetryForever", Assert.Throws<ArgumentException>(() => budget.SetSitePolicy("s", new SitePolicy { RetryForever = true, MaxRetries = 2 })).ParamName);
        Assert.Throws<ArgumentException>(() => budget.SetSitePolicy(" ", new SitePolicy()));
        TestBudgets.AssertEmpty(budget);
    }
}
