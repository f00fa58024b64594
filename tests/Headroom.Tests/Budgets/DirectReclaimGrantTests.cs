using Headroom.Tests.Diagnostics;

namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §3: a charge that direct reclaim makes room for is granted, charged once, and is no refusal, whatever its
/// mode. Mutation testing found the grant after a pass unchecked: taken for a refusal, it still charged, counted a
/// refusal that never happened (MayFail, RetryMayFail) and sent a NoFail charge on to the OOM killer's path.
/// </summary>
public sealed class DirectReclaimGrantTests
{
    [Theory]
    [InlineData(AllocationMode.MayFail)]
    [InlineData(AllocationMode.RetryMayFail)]
    [InlineData(AllocationMode.NoFail)]
    public void A_charge_that_direct_reclaim_makes_room_for_is_granted_once_and_counted_as_no_refusal(AllocationMode mode)
    {
        string name = $"reclaimed-grant-{Guid.NewGuid():N}";
        using var recorder = new MeterRecorder(name);
        using MemoryBudget budget = TestBudgets.Flat(1000, name);
        var reclaim = new FakeReclaim(budget, cached: 600);
        budget.Charge(300, AllocationMode.NoWait); // 900 charged: 300 more needs 200 of the cache

        budget.Charge(300, mode);

        Assert.True(reclaim.Passes >= 1);
        Assert.Equal(300 + 300 + reclaim.Cached, budget.Used); // the ledger: two charges and what the cache still holds
        Assert.True(reclaim.Cached <= 400, $"the cache still holds {reclaim.Cached}");
        Assert.Empty(recorder.Of("headroom.memory.refusals"));
        TestBudgets.AssertQueued(budget, 0);

        budget.Uncharge(600);
        reclaim.Drop();
        TestBudgets.AssertEmpty(budget);
    }
}
