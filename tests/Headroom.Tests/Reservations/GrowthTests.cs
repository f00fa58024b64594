namespace Headroom.Tests.Reservations;

/// <summary>Semantics §5: a growth admitted after its reservation was disposed gives its bytes back and says so.</summary>
public sealed class GrowthTests
{
    [Fact]
    public async Task A_growth_waiting_while_its_reservation_is_disposed_fails_and_leaves_nothing()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        MemoryReservation reservation = await budget.ReserveAsync(400);
        budget.Charge(600, AllocationMode.NoWait);
        ValueTask growth = reservation.GrowAsync(300);
        Assert.False(growth.IsCompleted);

        reservation.Dispose(); // 400 back: the growth fits now, but there is nothing left to grow
        ObjectDisposedException e = await Assert.ThrowsAsync<ObjectDisposedException>(async () => await growth);
        Assert.Contains("300", e.Message, StringComparison.Ordinal);
        Assert.Equal(600, budget.Used);
        Assert.Equal(0, budget.Reserved);
        Assert.Equal(600, budget.Committed);

        budget.Uncharge(600);
        TestBudgets.AssertEmpty(budget);
    }
}
