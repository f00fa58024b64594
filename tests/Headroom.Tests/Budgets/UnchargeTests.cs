namespace Headroom.Tests.Budgets;

/// <summary>Semantics §10: an uncharge above Used is refused and changes nothing, reservations live or not.</summary>
public sealed class UnchargeTests
{
    [Fact]
    public async Task A_reservation_below_a_child_guards_the_parent_and_the_child_and_its_end_restores_the_one_read_check()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 500));
        MemoryReservation reservation = await child.ReserveAsync(200);
        root.Charge(50, AllocationMode.NoWait);

        Assert.Throws<ArgumentOutOfRangeException>(() => root.Uncharge(100)); // root: Committed 250, Used 50
        Assert.Throws<ArgumentOutOfRangeException>(() => child.Uncharge(1)); // child: Committed 200, Used 0
        Assert.Equal(250, root.Committed);

        reservation.Dispose();
        reservation.Dispose(); // twice: the count of live reservations drops once
        Assert.Throws<ArgumentOutOfRangeException>(() => root.Uncharge(51));
        root.Uncharge(50);
        TestBudgets.AssertEmpty(root, child);
    }
}
