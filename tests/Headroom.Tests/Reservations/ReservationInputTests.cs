namespace Headroom.Tests.Reservations;

/// <summary>
/// Semantics §10 for a reservation's own calls: bad input gets a specific exception before anything changes, and a
/// cancelled token ends the call with nothing left behind. Mutation testing found these checks unchecked on the
/// reservation's TryCharge, Charge, Shrink, TryGrow and GrowAsync and on ReserveAsync with a cancelled token.
/// </summary>
public sealed class ReservationInputTests
{
    [Fact]
    public async Task A_reservations_calls_refuse_bad_sizes_and_a_NoFail_try_changing_nothing()
    {
        using MemoryBudget budget = TestBudgets.Small(); // capacity 1000, min 100
        Assert.True(budget.TryReserve(200, out MemoryReservation? r, ReservationMode.Tokens));

        foreach (long bad in new long[] { 0, -1, 1001 })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => r.TryCharge(bad));
            Assert.Throws<ArgumentOutOfRangeException>(() => r.Charge(bad));
            Assert.Throws<ArgumentOutOfRangeException>(() => r.TryGrow(bad));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => r.GrowAsync(bad).AsTask());
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => r.TryGrow(901)); // above capacity − min: never admitted
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Shrink(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Shrink(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => r.TryCharge(10, AllocationMode.NoFail));

        Assert.Equal((200, 0, 200), (r.Amount, r.Drawn, r.Remaining));
        Assert.Equal((0, 200), (budget.Used, budget.Reserved));
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_cancelled_token_ends_a_reservations_charge_and_a_reserve_request_with_nothing_changed()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(200, out MemoryReservation? r, ReservationMode.Tokens));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        Assert.Throws<OperationCanceledException>(() => r.Charge(50, cancellationToken: cts.Token)); // covered, yet cancelled
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => r.ChargeAsync(50, cancellationToken: cts.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => budget.ReserveAsync(100, cancellationToken: cts.Token).AsTask());

        Assert.Equal((0, 200), (r.Drawn, r.Remaining));
        Assert.Equal((0, 200, 200), (budget.Used, budget.Reserved, budget.Committed));
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }
}
