namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §3: a new request never takes memory past a queued waiter of its own class, and only while that waiter
/// is queued. Arrivals of a deeper class read per-class counts of the queue; mutation testing found both ends of the
/// count unchecked: a High waiter not counted let a High arrival overtake it, and one counted after it left held every
/// later High arrival back for good. Capacity 1000, min 100: High may go to 950, interrupt-like to 962.
/// </summary>
public sealed class ClassHoldBackTests
{
    [Fact]
    public async Task A_high_arrival_waits_behind_a_queued_high_waiter_and_passes_once_it_left()
    {
        using MemoryBudget budget = TestBudgets.Small("root");
        long used = 0; // the test's ledger
        budget.Charge(900, AllocationMode.MayFail); // at the slow path's floor (min)
        used += 900;

        ValueTask waiter = budget.ChargeAsync(100, AllocationMode.NoFail, AllocationPriority.High); // 1000 > 950: queued
        TestBudgets.AssertQueued(budget, 1);
        budget.Uncharge(30); // 870: the waiter's 100 still does not fit under 950; 20 would
        used -= 30;

        Assert.False(budget.TryCharge(20, AllocationMode.MayFail, AllocationPriority.High)); // its own class keeps its order
        Assert.True(budget.TryCharge(20, AllocationMode.NoWait, AllocationPriority.High)); // interrupt-like is a deeper class
        used += 20;
        Assert.Equal(used, budget.Used);
        Assert.False(waiter.IsCompleted);

        budget.Uncharge(20 + 70); // 800: the waiter fits, and is granted
        used -= 20 + 70;
        await waiter;
        used += 100;
        TestBudgets.AssertQueued(budget, 0);

        Assert.True(budget.TryCharge(50, AllocationMode.MayFail, AllocationPriority.High)); // 950: nobody to wait behind now
        used += 50;
        Assert.Equal(used, budget.Used);

        budget.Uncharge(used);
        TestBudgets.AssertEmpty(budget);
    }
}
