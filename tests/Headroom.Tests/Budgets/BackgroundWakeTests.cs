namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §2: after any grant that leaves C − Committed below Low, background reclaim is woken, at the level that
/// went below, whatever path granted it. The fast path cannot go below Low, so the wake-up of a grant is seen on the
/// paths with deeper floors: a reservation's admission (Min) shows it, and mutation testing found it unchecked there.
/// </summary>
public sealed class BackgroundWakeTests
{
    [Fact]
    public void An_admission_that_leaves_less_than_low_free_wakes_background_reclaim_and_one_that_leaves_low_does_not()
    {
        using MemoryBudget budget = TestBudgets.Small(); // capacity 1000, min 100, low 200, high 300
        var reclaim = new FakeReclaim(budget, cached: 0);

        Assert.True(budget.TryReserve(800, out MemoryReservation? first)); // 200 free: exactly low
        Assert.Empty(reclaim.BackgroundWakes);

        Assert.True(budget.TryReserve(50, out MemoryReservation? second)); // 150 free: below low
        Assert.Equal([budget], reclaim.BackgroundWakes);
        Assert.Equal((0, 850), (budget.Used, budget.Reserved));

        first.Dispose();
        second.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void The_wake_up_is_for_the_level_that_went_below_its_low_watermark()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget child = root.CreateChild(new ChildBudgetOptions { Name = "child", Capacity = 500, MinWatermark = 50, LowWatermark = 100, HighWatermark = 150 });
        var reclaim = new FakeReclaim(root, cached: 0);

        Assert.True(child.TryReserve(420, out MemoryReservation? r)); // child: 80 free < 100; root: 580 free, low 0
        Assert.Equal([child], reclaim.BackgroundWakes);
        Assert.Equal((420, 420), (child.Reserved, root.Reserved));

        r.Dispose();
        TestBudgets.AssertEmpty(root, child);
    }
}
