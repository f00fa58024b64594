namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §7 (attribution): a charge held as a lease credits the consumer that made it, on whichever flow it is
/// disposed, and uncharges exactly once.
/// </summary>
public sealed class LeaseTests
{
    [Fact]
    public async Task A_lease_disposed_on_another_flow_credits_the_consumer_that_charged_and_no_other()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        using var cancelA = new CancellationTokenSource();
        using var cancelB = new CancellationTokenSource();
        using MemoryConsumer a = budget.RegisterConsumer("a", cancelA);
        using MemoryConsumer b = budget.RegisterConsumer("b", cancelB);

        ChargeLease first, second;
        using (a.Enter())
        {
            first = budget.Lease(300, AllocationMode.NoWait);
            second = await budget.LeaseAsync(200, AllocationMode.NoFail);
        }

        Assert.Same(a, first.Consumer);
        Assert.Equal(500, a.Charged);

        // An eviction on b's flow (a cache shared by both, say): the lease credits a, where a raw uncharge would credit b.
        using (b.Enter())
        {
            first.Dispose();
            await Task.Run(second.Dispose); // and a hand-off to another task
        }

        Assert.Equal(0, a.Charged);
        Assert.Equal(0, b.Charged);
        Assert.True(first.IsReleased);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_lease_uncharges_exactly_once()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        budget.Charge(100, AllocationMode.NoWait); // the test's own, which a second uncharge would eat
        ChargeLease lease = budget.Lease(250, AllocationMode.NoWait);
        Assert.Equal(350, budget.Used);
        lease.Dispose();
        lease.Dispose();
        Assert.Equal(100, budget.Used);
        Assert.Null(lease.Consumer);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_refused_try_gives_no_lease_and_changes_nothing()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        Assert.True(budget.TryLease(80, out ChargeLease? held));
        Assert.False(budget.TryLease(30, out ChargeLease? refused));
        Assert.Null(refused);
        Assert.Equal(80, budget.Used);
        Assert.Throws<MemoryAllocationException>(() => budget.Lease(30, AllocationMode.NoWait));
        Assert.Equal(80, budget.Used);
        held.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_waiting_lease_is_granted_in_line_and_a_cancelled_one_leaves_nothing()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);
        using var cancel = new CancellationTokenSource();
        ValueTask<ChargeLease> cancelled = budget.LeaseAsync(50, AllocationMode.NoFail, cancellationToken: cancel.Token);
        ValueTask<ChargeLease> waiting = budget.LeaseAsync(40, AllocationMode.NoFail);
        Assert.False(waiting.IsCompleted);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cancelled);
        budget.Uncharge(40);
        ChargeLease lease = await waiting;
        Assert.Equal(100, budget.Used);
        lease.Dispose();
        budget.Uncharge(60);
        TestBudgets.AssertEmpty(budget);
    }
}
