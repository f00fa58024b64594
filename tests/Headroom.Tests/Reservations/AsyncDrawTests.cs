namespace Headroom.Tests.Reservations;

/// <summary>
/// Semantics §5 through the asynchronous entry points: a reservation's ChargeAsync, and a budget's ChargeAsync inside
/// its scope, charge exactly what they are asked, from ordinary memory first in watermark mode and from the
/// reservation first in token mode, completing at once whenever the reservation or ordinary memory covers them.
/// </summary>
public sealed class AsyncDrawTests
{
    [Fact]
    public async Task Watermark_mode_ChargeAsync_with_ordinary_room_charges_once_and_leaves_the_reservation_untouched()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(300, out MemoryReservation? r));

        ValueTask explicitly = r.ChargeAsync(200);
        Assert.True(explicitly.IsCompletedSuccessfully);
        await explicitly;
        using (r.Enter())
        {
            ValueTask ambient = budget.ChargeAsync(100, AllocationMode.NoFail);
            Assert.True(ambient.IsCompletedSuccessfully);
            await ambient;
        }

        Assert.Equal((0, 300), (r.Drawn, r.Remaining));
        Assert.Equal((300, 300, 600), (budget.Used, budget.Reserved, budget.Committed));

        budget.Charge(400, AllocationMode.NoWait); // full for everyone else: the next charges draw
        await r.ChargeAsync(120);
        using (r.Enter())
        {
            await budget.ChargeAsync(80, AllocationMode.NoFail);
        }

        Assert.Equal((200, 100), (r.Drawn, r.Remaining));
        Assert.Equal((900, 100, 1000), (budget.Used, budget.Reserved, budget.Committed));

        r.Dispose();
        budget.Uncharge(900);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Token_mode_ChargeAsync_draws_first_and_charges_only_the_excess_as_ordinary_memory()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(300, out MemoryReservation? r, ReservationMode.Tokens));

        await r.ChargeAsync(200);
        Assert.Equal((200, 100), (r.Drawn, r.Remaining));
        using (r.Enter())
        {
            await budget.ChargeAsync(150, AllocationMode.NoFail); // 100 drawn, 50 ordinary
        }

        Assert.Equal((300, 0), (r.Drawn, r.Remaining));
        Assert.Equal((350, 0, 350), (budget.Used, budget.Reserved, budget.Committed));

        r.Dispose();
        budget.Uncharge(350);
        TestBudgets.AssertEmpty(budget);
    }
}
