namespace Headroom.AspNetCore.Tests;

/// <summary>Budgets with round numbers, and the end-of-test check that nothing is held.</summary>
internal static class Budgets
{
    /// <summary>Watermarks at zero: a reservation fits exactly when Committed + n ≤ capacity.</summary>
    internal static MemoryBudget Flat(long capacity, string name = "flat") => new(new MemoryBudgetOptions
    {
        Name = name,
        Capacity = capacity,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
        CanaryInterval = Timeout.InfiniteTimeSpan,
    });

    /// <summary>Every test ends here: parked buffers given back, stocks drained, nothing held, nothing stocked, nothing queued.</summary>
    internal static void AssertEmpty(MemoryBudget budget)
    {
        budget.TrimParked();
        budget.DrainStocks();
        Assert.Equal(0, budget.Stocked);
        Assert.Equal(0, budget.Used);
        Assert.Equal(0, budget.Reserved);
        Assert.Equal(0, budget.Queue.Count);
    }

    /// <summary>Waits (bounded) for a state that another thread reaches without a signal this test can await, such as a waiter parking on the budget.</summary>
    internal static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for: {what}");
            await Task.Delay(5);
        }
    }
}
