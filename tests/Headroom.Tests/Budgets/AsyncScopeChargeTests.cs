using Headroom.Tests.Reclaim;

namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §3: the async entry points never block a thread, inside a scope too. A ChargeAsync on a flow with a
/// consumer's or a reservation's scope whose charge needs direct reclaim awaits an asynchronous reclaimer; it returns
/// a pending task at once. Mutation testing found the scope paths unchecked: run synchronously, the call blocked its
/// thread until the reclaimer finished.
/// </summary>
public sealed class AsyncScopeChargeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_ChargeAsync_in_a_consumers_scope_that_needs_reclaim_returns_pending_and_is_credited_to_the_consumer()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var cache = new GatedReclaimer(budget, 600);
        using IDisposable registration = budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "gated", Timeout = Timeout.InfiniteTimeSpan });
        budget.Charge(300, AllocationMode.NoWait); // 900 charged: 200 more needs the cache
        using var cancellation = new CancellationTokenSource();
        using MemoryConsumer consumer = budget.RegisterConsumer("worker", cancellation);

        (Task charge, _) = await Task.Run(() =>
        {
            using (consumer.Enter())
            {
                return (budget.ChargeAsync(200, AllocationMode.RetryMayFail).AsTask(), true); // a pair: Task.Run would unwrap a task
            }
        }).WaitAsync(Patience); // a blocked call never returns while the gate is shut

        Assert.False(charge.IsCompleted);
        cache.Open();
        await charge.WaitAsync(Patience);

        Assert.Equal(200, consumer.Charged);
        Assert.Equal(300 + 200 + cache.Held, budget.Used); // the ledger
        using (consumer.Enter())
        {
            budget.Uncharge(200);
        }

        Assert.Equal(0, consumer.Charged);
        budget.Uncharge(300);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_ChargeAsync_in_a_reservations_scope_whose_excess_needs_reclaim_returns_pending_and_draws_once()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var cache = new GatedReclaimer(budget, 500);
        using IDisposable registration = budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "gated", Timeout = Timeout.InfiniteTimeSpan });
        Assert.True(budget.TryReserve(100, out MemoryReservation? reservation, ReservationMode.Tokens));
        budget.Charge(400, AllocationMode.NoWait); // 500 cached + 100 reserved + 400 charged: full

        (Task charge, _) = await Task.Run(() =>
        {
            using (reservation.Enter())
            {
                return (budget.ChargeAsync(250, AllocationMode.RetryMayFail).AsTask(), true); // 100 drawn, 150 of excess needs reclaim
            }
        }).WaitAsync(Patience);

        Assert.False(charge.IsCompleted);
        cache.Open();
        await charge.WaitAsync(Patience);

        Assert.Equal((100, 0), (reservation.Drawn, reservation.Remaining));
        Assert.Equal(400 + 250 + cache.Held, budget.Used);
        reservation.Dispose();
        budget.Uncharge(650);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }
}
