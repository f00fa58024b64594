namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §3: a request never takes memory past a queued waiter of its class. One that fits, to the byte, but is
/// refused only to keep the line's order is short of its turn, not of memory: it reclaims nothing. Mutation testing
/// found the boundary unchecked: a request that fits exactly was taken for one short of memory and ran direct reclaim.
/// </summary>
public sealed class OrderOnlyRefusalTests
{
    [Fact]
    public async Task A_charge_that_fits_exactly_but_is_behind_a_waiter_is_refused_without_reclaim()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        var reclaim = new FakeReclaim(budget, cached: 0); // nothing to reclaim: every pass would be fruitless, but counted
        budget.Charge(70, AllocationMode.NoWait);
        ValueTask waiter = budget.ChargeAsync(40, AllocationMode.NoFail); // 110 > 100: queued, memory short for it
        TestBudgets.AssertQueued(budget, 1);
        int passes = reclaim.Passes;

        Assert.False(budget.TryCharge(30, AllocationMode.MayFail)); // 70 + 30 = 100 fits, but the waiter is older
        Assert.Equal(passes, reclaim.Passes);
        Assert.Equal(70, budget.Used);

        budget.Uncharge(10);
        await waiter;
        Assert.Equal(100, budget.Used);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }
}
