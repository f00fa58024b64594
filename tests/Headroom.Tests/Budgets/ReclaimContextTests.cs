using Headroom.Tests.Reclaim;

namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §2 and §4: a charge made by code running inside a reclaimer (PF_MEMALLOC) has no floor at all, so it
/// is granted up to the capacity and refused one byte past it; refused, it changes nothing, and granted (NoFail too),
/// it is charged exactly once. Mutation testing found both outcomes unchecked: a refusal read as a grant, or a grant
/// charged a second time through the wait queue, passed every other test.
/// </summary>
public sealed class ReclaimContextTests
{
    private static ReclaimerOptions Options(string domain) => new() { Domain = domain, Timeout = Timeout.InfiniteTimeSpan };

    [Fact]
    public void Inside_a_reclaimer_a_charge_fills_the_budget_to_capacity_and_one_byte_more_is_refused_changing_nothing()
    {
        // Watermarks at zero: background reclaim never wakes, so only the test's own thread reclaims and charges.
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var cache = new TestCache(budget, 400);
        var inside = new List<(string Call, bool Granted, long Used)>();
        int test = Environment.CurrentManagedThreadId;
        cache.During = _ =>
        {
            if (Environment.CurrentManagedThreadId != test || inside.Count != 0)
            {
                return; // one look, on the test's flow
            }

            // 900 charged here: the reclaimer's charges meet no floor, only the capacity.
            inside.Add(("TryCharge(101)", budget.TryCharge(101, AllocationMode.MayFail), budget.Used)); // 1001 > 1000
            inside.Add(("TryCharge(100)", budget.TryCharge(100, AllocationMode.MayFail), budget.Used)); // exactly 1000
            budget.Uncharge(100);
            budget.Charge(40, AllocationMode.NoFail); // fits: granted at once, and once
            inside.Add(("Charge(40, NoFail)", true, budget.Used));
            budget.Uncharge(40);
        };
        using IDisposable registration = budget.RegisterReclaimer(cache, Options("cache"));
        budget.Charge(500, AllocationMode.NoWait);

        budget.Charge(200, AllocationMode.MayFail); // 1100 > 1000: one direct pass frees part of the cache

        Assert.Equal(
            [("TryCharge(101)", false, 900L), ("TryCharge(100)", true, 1000L), ("Charge(40, NoFail)", true, 940L)],
            inside);
        Assert.Equal(cache.Cached + 500 + 200, budget.Used); // the ledger: what the cache still holds, and the two charges

        budget.Uncharge(700);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Inside_a_reclaimer_an_asynchronous_NoFail_charge_that_fits_is_charged_once_and_at_once()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var cache = new TestCache(budget, 400);
        var inside = new List<(bool Completed, long Used)>();
        int test = Environment.CurrentManagedThreadId;
        cache.During = _ =>
        {
            if (Environment.CurrentManagedThreadId != test || inside.Count != 0)
            {
                return;
            }

            ValueTask charge = budget.ChargeAsync(60, AllocationMode.NoFail); // 960 ≤ 1000
            inside.Add((charge.IsCompletedSuccessfully, budget.Used));
            budget.Uncharge(60);
        };
        using IDisposable registration = budget.RegisterReclaimer(cache, Options("cache"));
        budget.Charge(500, AllocationMode.NoWait);

        budget.Charge(150, AllocationMode.MayFail);

        Assert.Equal([(true, 960L)], inside);
        Assert.Equal(cache.Cached + 500 + 150, budget.Used);
        budget.Uncharge(650);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }
}
