namespace Headroom.Tests.Budgets;

/// <summary>Semantics §3: what each mode does when there is no room.</summary>
public sealed class ModeTests
{
    [Fact]
    public async Task NoWait_fails_at_once_and_changes_nothing()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(80, AllocationMode.NoWait);

        Assert.False(budget.TryCharge(30));
        var e = Assert.Throws<MemoryAllocationException>(() => budget.Charge(30, AllocationMode.NoWait, site: "journal"));
        Assert.Equal(30, e.Bytes);
        Assert.Equal(AllocationMode.NoWait, e.Mode);
        Assert.Equal("journal", e.Site);
        Assert.Equal(80, e.Budget.Used);
        Assert.Equal(e.Budget, e.RefusedBy);
        Assert.Contains("journal", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<MemoryAllocationException>(() => budget.ChargeAsync(30, AllocationMode.NoWait).AsTask());
        Assert.Equal(80, budget.Used);

        budget.Uncharge(80);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Without_reclaim_every_failing_mode_fails_at_once()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);
        foreach (AllocationMode mode in new[] { AllocationMode.NoWait, AllocationMode.MayFail, AllocationMode.RetryMayFail })
        {
            Assert.False(budget.TryCharge(1, mode));
            Assert.Throws<MemoryAllocationException>(() => budget.Charge(1, mode));
        }

        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void TryCharge_refuses_NoFail_because_it_never_waits()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryCharge(1, AllocationMode.NoFail));
        Assert.Equal("mode", e.ParamName);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void MayFail_runs_exactly_one_direct_reclaim_pass()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        var reclaim = new FakeReclaim(budget, cached: 60) { PerPass = 10 };
        budget.Charge(40, AllocationMode.NoWait);

        Assert.False(budget.TryCharge(20, AllocationMode.MayFail)); // one pass frees 10: not enough
        Assert.Equal(1, reclaim.Passes);
        Assert.True(budget.TryCharge(20, AllocationMode.MayFail)); // the next pass frees 10 more
        Assert.Equal(2, reclaim.Passes);

        budget.Uncharge(60);
        reclaim.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void RetryMayFail_reclaims_while_it_makes_progress()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        var reclaim = new FakeReclaim(budget, cached: 60) { PerPass = 10 };
        budget.Charge(40, AllocationMode.NoWait);

        budget.Charge(50, AllocationMode.RetryMayFail); // five passes of 10
        Assert.Equal(5, reclaim.Passes);
        Assert.Equal(10, reclaim.Cached);

        budget.Uncharge(90);
        reclaim.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void RetryMayFail_gives_up_after_16_passes_without_progress()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        var reclaim = new FakeReclaim(budget, cached: 60) { PerPass = 0 }; // claims 60 reclaimable, never frees any
        budget.Charge(40, AllocationMode.NoWait);

        var e = Assert.Throws<MemoryAllocationException>(() => budget.Charge(10, AllocationMode.RetryMayFail));
        Assert.Equal(MemoryBudget.MaxReclaimRetries, reclaim.Passes);
        Assert.Equal(100, e.Budget.Used);

        budget.Uncharge(40);
        reclaim.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void RetryMayFail_gives_up_at_once_when_even_everything_reclaimable_would_not_do()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        var reclaim = new FakeReclaim(budget, cached: 10);
        budget.Charge(85, AllocationMode.NoWait);

        Assert.False(budget.TryCharge(20, AllocationMode.RetryMayFail)); // 5 free + 10 reclaimable < 20
        Assert.Equal(0, reclaim.Passes);
        Assert.Equal(10, reclaim.Cached);

        budget.Uncharge(85);
        reclaim.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void NoWait_runs_no_direct_reclaim_but_wakes_background_reclaim()
    {
        using MemoryBudget budget = TestBudgets.Small();
        var reclaim = new FakeReclaim(budget, cached: 50);
        budget.Charge(850, AllocationMode.NoWait);
        Assert.NotEmpty(reclaim.BackgroundWakes); // 900 charged leaves 100 < low
        reclaim.BackgroundWakes.Clear();

        Assert.False(budget.TryCharge(50));
        Assert.Equal(0, reclaim.Passes);
        Assert.Equal([budget], reclaim.BackgroundWakes); // the slow path wakes it once

        budget.Uncharge(850);
        reclaim.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_grant_that_stays_above_low_does_not_wake_background_reclaim()
    {
        using MemoryBudget budget = TestBudgets.Small();
        var reclaim = new FakeReclaim(budget, cached: 0);
        budget.Charge(800, AllocationMode.NoWait); // leaves exactly low free
        Assert.Empty(reclaim.BackgroundWakes);
        budget.Charge(1, AllocationMode.NoWait);
        Assert.NotEmpty(reclaim.BackgroundWakes);
        Assert.All(reclaim.BackgroundWakes, level => Assert.Same(budget, level));
        budget.Uncharge(801);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task NoFail_waits_until_an_uncharge_makes_room()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);

        ValueTask wait = budget.ChargeAsync(30, AllocationMode.NoFail);
        Assert.False(wait.IsCompleted);
        TestBudgets.AssertQueued(budget, 1);

        budget.Uncharge(20);
        Assert.False(wait.IsCompleted); // 80 + 30 > 100: not yet
        budget.Uncharge(10);
        await wait;
        Assert.Equal(100, budget.Used);

        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_blocking_NoFail_charge_is_woken_too()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(100, AllocationMode.NoWait);

        var charger = Task.Run(() => budget.Charge(50, AllocationMode.NoFail));
        while (budget.Queue.Count == 0)
        {
            await Task.Yield();
        }

        budget.Uncharge(50);
        await charger.WaitAsync(TimeSpan.FromSeconds(30));
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_NoFail_charge_that_could_never_be_granted_is_refused_up_front()
    {
        using MemoryBudget budget = TestBudgets.Small();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => budget.Charge(901, AllocationMode.NoFail)); // ceiling 1000 − min
        Assert.Contains("900", e.Message, StringComparison.Ordinal);
        budget.Charge(950, AllocationMode.NoFail, AllocationPriority.High); // high may go to 1000 − min / 2
        budget.Uncharge(950);
        TestBudgets.AssertEmpty(budget);
    }
}
