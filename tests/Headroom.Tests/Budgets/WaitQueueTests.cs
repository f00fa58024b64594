namespace Headroom.Tests.Budgets;

/// <summary>Semantics §3: one FIFO queue, woken without polling; a cancelled waiter leaves no trace.</summary>
public sealed class WaitQueueTests
{
    [Fact]
    public async Task A_large_waiter_is_not_starved_by_smaller_ones_behind_it()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);

        ValueTask large = budget.ChargeAsync(60, AllocationMode.NoFail);
        ValueTask small = budget.ChargeAsync(10, AllocationMode.NoFail);
        TestBudgets.AssertQueued(budget, 2);

        budget.Uncharge(50); // room for the small one, not for the large one ahead of it
        Assert.False(large.IsCompleted);
        Assert.False(small.IsCompleted);
        Assert.False(budget.TryCharge(10)); // arrivals do not overtake either

        budget.Uncharge(20); // 30 used: both fit now, in order
        await large;
        await small;
        Assert.Equal(100, budget.Used);

        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Only_waiters_that_fit_are_woken_in_order()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);
        ValueTask first = budget.ChargeAsync(20, AllocationMode.NoFail);
        ValueTask second = budget.ChargeAsync(20, AllocationMode.NoFail);
        ValueTask third = budget.ChargeAsync(20, AllocationMode.NoFail);

        budget.Uncharge(45);
        await first;
        await second;
        Assert.False(third.IsCompleted);
        TestBudgets.AssertQueued(budget, 1);

        budget.Uncharge(15);
        await third;
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_cancelled_waiter_leaves_nothing_behind_and_lets_the_next_one_through()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);
        using var cts = new CancellationTokenSource();

        ValueTask blocked = budget.ChargeAsync(80, AllocationMode.NoFail, cancellationToken: cts.Token);
        ValueTask behind = budget.ChargeAsync(10, AllocationMode.NoFail);
        budget.Uncharge(50);
        Assert.False(behind.IsCompleted);

        await cts.CancelAsync();
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocked.AsTask());
        Assert.Equal(cts.Token, e.CancellationToken);
        await behind; // no longer held up by the cancelled head
        Assert.Equal(60, budget.Used);

        budget.Uncharge(60);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_charge_whose_token_is_already_cancelled_changes_nothing()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        Assert.Throws<OperationCanceledException>(() => budget.Charge(10, AllocationMode.NoFail, cancellationToken: cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => budget.ChargeAsync(10, AllocationMode.NoFail, cancellationToken: cts.Token).AsTask());
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_blocking_charge_is_cancelled_from_another_thread()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);
        using var cts = new CancellationTokenSource();

        var charger = Task.Run(() => budget.Charge(10, AllocationMode.NoFail, cancellationToken: cts.Token));
        while (budget.Queue.Count == 0)
        {
            await Task.Yield();
        }

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => charger.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(100, budget.Used);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_cancellation_after_the_grant_does_not_take_the_grant_back()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);
        using var cts = new CancellationTokenSource();
        ValueTask wait = budget.ChargeAsync(10, AllocationMode.NoFail, cancellationToken: cts.Token);

        budget.Uncharge(10);
        await cts.CancelAsync();
        await wait; // granted before the cancellation: it owns its bytes
        Assert.Equal(100, budget.Used);

        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Disposing_the_budget_fails_its_waiters()
    {
        var budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);
        ValueTask wait = budget.ChargeAsync(10, AllocationMode.NoFail);

        budget.Dispose();
        var e = await Assert.ThrowsAsync<ObjectDisposedException>(() => wait.AsTask());
        Assert.Contains("disposed", e.Message, StringComparison.Ordinal);
        Assert.Equal(100, budget.Used);

        budget.Uncharge(100); // holders may still unwind
        TestBudgets.AssertEmpty(budget);
    }
}
