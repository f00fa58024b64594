namespace Headroom.Tests;

/// <summary>Budgets with round watermarks, so that each rule of semantics §2 lands on a number a reader can check.</summary>
internal static class TestBudgets
{
    /// <summary>Capacity 1000, min 100, low 200, high 300; no canary.</summary>
    internal static MemoryBudget Small(string name = "small") => new(new MemoryBudgetOptions
    {
        Name = name,
        Capacity = 1000,
        MinWatermark = 100,
        LowWatermark = 200,
        HighWatermark = 300,
        CanaryInterval = Timeout.InfiniteTimeSpan,
    });

    /// <summary>Watermarks at zero: a charge fits exactly when Committed + n ≤ capacity.</summary>
    internal static MemoryBudget Flat(long capacity, string name = "flat") => new(Flat(name, capacity));

    internal static MemoryBudgetOptions Flat(string name, long capacity) => new()
    {
        Name = name,
        Capacity = capacity,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
        CanaryInterval = Timeout.InfiniteTimeSpan,
    };

    /// <summary>A child's settings with watermarks at zero.</summary>
    internal static ChildBudgetOptions FlatChild(string name, long capacity) => new()
    {
        Name = name,
        Capacity = capacity,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
    };

    /// <summary>Every test that charges ends here: after a drain of the stocks, nothing held, nothing stocked, nothing queued.</summary>
    internal static void AssertEmpty(params MemoryBudget[] budgets)
    {
        foreach (MemoryBudget budget in budgets)
        {
            budget.DrainStocks();
            Assert.Equal(0, budget.Stocked);
            Assert.Equal(0, budget.Used);
            Assert.Equal(0, budget.Reserved);
            Assert.Equal(0, budget.Queue.Count);
        }
    }

    /// <summary>Invariant I1 of semantics §1.</summary>
    internal static void AssertI1(MemoryBudget budget)
    {
        MemoryBudgetSnapshot s = budget.GetSnapshot();
        Assert.InRange(s.Used, 0, s.Capacity);
        Assert.InRange(s.Reserved, 0, s.Capacity);
        Assert.True(s.Used + s.Reserved <= s.Capacity, $"I1 broken: {s}");
    }

    /// <summary>Waits until <paramref name="count"/> waiters are queued at <paramref name="level"/> (waiters park synchronously, so this is immediate).</summary>
    internal static void AssertQueued(MemoryBudget level, int count) => Assert.Equal(count, level.Queue.Count);

    /// <summary>Charges on behalf of <paramref name="consumer"/>, as its own flow would.</summary>
    internal static void ChargeAs(MemoryConsumer consumer, MemoryBudget budget, long bytes)
    {
        using (consumer.Enter())
        {
            budget.Charge(bytes, AllocationMode.NoWait);
        }
    }

    /// <summary>Uncharges on behalf of <paramref name="consumer"/>, as its own flow would.</summary>
    internal static void UnchargeAs(MemoryConsumer consumer, MemoryBudget budget, long bytes)
    {
        using (consumer.Enter())
        {
            budget.Uncharge(bytes);
        }
    }
}
