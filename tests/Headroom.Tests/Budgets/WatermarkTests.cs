namespace Headroom.Tests.Budgets;

/// <summary>Semantics §2: who may take how much. Capacity 1000, min 100, low 200, high 300.</summary>
public sealed class WatermarkTests
{
    [Fact]
    public void The_fast_path_stops_at_low_and_the_slow_path_at_min()
    {
        using MemoryBudget budget = TestBudgets.Small();
        Assert.True(budget.TryCharge(800)); // 800 ≤ 1000 − low
        Assert.True(budget.TryCharge(100)); // fast path refuses (900 > 800), slow path grants (900 ≤ 1000 − min)
        Assert.False(budget.TryCharge(1)); // 901 > 900
        Assert.Equal(900, budget.Used);
        budget.Uncharge(900);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void High_priority_may_use_half_the_min_reserve()
    {
        using MemoryBudget budget = TestBudgets.Small();
        Assert.True(budget.TryCharge(950, AllocationMode.MayFail, AllocationPriority.High)); // floor min / 2 = 50
        Assert.False(budget.TryCharge(1, AllocationMode.MayFail, AllocationPriority.High));
        budget.Uncharge(950);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void High_priority_that_cannot_block_may_use_five_eighths_of_the_min_reserve()
    {
        using MemoryBudget budget = TestBudgets.Small();
        Assert.True(budget.TryCharge(962, AllocationMode.NoWait, AllocationPriority.High)); // floor 100 × 3/8 = 37
        Assert.True(budget.TryCharge(1, AllocationMode.NoWait, AllocationPriority.High));
        Assert.False(budget.TryCharge(1, AllocationMode.NoWait, AllocationPriority.High));
        Assert.False(budget.TryCharge(1, AllocationMode.MayFail, AllocationPriority.High)); // blocking high stops at 50
        budget.Uncharge(963);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void The_counters_add_up()
    {
        using MemoryBudget budget = TestBudgets.Small();
        budget.Charge(300, AllocationMode.NoWait);
        MemoryBudgetSnapshot s = budget.GetSnapshot();
        Assert.Equal(new MemoryBudgetSnapshot("small", 1000, 300, 0, 100, 200, 300), s);
        Assert.Equal(300, s.Committed);
        Assert.Equal(700, s.Free);
        Assert.Equal(700, budget.Free);
        Assert.Equal(300, budget.Committed);
        budget.Uncharge(300);
        TestBudgets.AssertEmpty(budget);
    }
}
