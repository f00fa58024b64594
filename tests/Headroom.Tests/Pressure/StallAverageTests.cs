using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Pressure;

/// <summary>
/// PSI's "some" and "full" for a budget (issue 13): the averages and total against the test's own ledger of when its
/// waiters parked and were granted, under a fake clock, so every figure is exact.
/// </summary>
public sealed class StallAverageTests
{
    private readonly FakeTimeProvider _clock = new();
    private readonly PsiLedger _some = new();
    private readonly PsiLedger _full = new();
    private TimeSpan _elapsed;

    private MemoryBudget Create(long capacity = 100) => new(new MemoryBudgetOptions
    {
        Name = "psi",
        Capacity = capacity,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        TimeProvider = _clock,
    });

    private void AdvanceTo(TimeSpan time)
    {
        _clock.Advance(time - _elapsed);
        _elapsed = time;
    }

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public async Task One_stall_gives_the_averages_and_total_psi_computes_from_its_interval()
    {
        using MemoryBudget budget = Create();
        budget.Charge(100, AllocationMode.NoWait);

        AdvanceTo(S(0.5));
        ValueTask wait = budget.ChargeAsync(10, AllocationMode.NoFail);
        Assert.False(wait.IsCompleted);
        Assert.Equal(1, budget.Pressure.StalledWaiters);

        AdvanceTo(S(3.7));
        _some.Stalled(S(0.5), S(3.7));
        Assert.Equal(_some.At(S(3.7)), budget.Pressure.Some); // the stall in progress counts in the total
        budget.Uncharge(10);
        await wait;

        foreach (double t in new[] { 3.7, 4.0, 5.9, 6.0, 10.0, 61.0, 301.0 })
        {
            AdvanceTo(S(t));
            Assert.Equal(_some.At(S(t)), budget.Pressure.Some);
        }

        Assert.Equal(3_200_000, budget.Pressure.Some.TotalMicroseconds);
        Assert.Equal(default, budget.Pressure.Full); // no consumer registered: full stays 0
        Assert.Equal(0, budget.Pressure.StalledWaiters);

        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Overlapping_waiters_count_once_and_a_waiter_at_a_child_stalls_its_parent_too()
    {
        using MemoryBudget root = Create();
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 50));
        var childLedger = new PsiLedger();
        root.Charge(60, AllocationMode.NoWait);
        child.Charge(40, AllocationMode.NoWait); // root full, child has 10 left

        AdvanceTo(S(1));
        ValueTask atRoot = root.ChargeAsync(20, AllocationMode.NoFail);
        AdvanceTo(S(2.5));
        ValueTask atChild = child.ChargeAsync(5, AllocationMode.NoFail); // refused by the full root
        AdvanceTo(S(3));
        root.Uncharge(20); // the root's waiter takes the 20 freed; the child's still does not fit at the root
        await atRoot;
        Assert.False(atChild.IsCompleted);
        AdvanceTo(S(7.25));
        root.Uncharge(5);
        await atChild;
        _some.Stalled(S(1), S(3));
        _some.Stalled(S(2.5), S(7.25));
        childLedger.Stalled(S(2.5), S(7.25));

        foreach (double t in new[] { 8.0, 9.5, 20.0, 120.0 })
        {
            AdvanceTo(S(t));
            Assert.Equal(_some.At(S(t)), root.Pressure.Some);
            Assert.Equal(childLedger.At(S(t)), child.Pressure.Some);
        }

        Assert.Equal(6_250_000, root.Pressure.Some.TotalMicroseconds); // 1 s to 7.25 s, the overlap once
        child.Uncharge(45);
        root.Uncharge(55);
        TestBudgets.AssertEmpty(root, child);
    }

    [Fact]
    public async Task Long_stalls_and_long_idle_stretches_match_psi_period_by_period()
    {
        using MemoryBudget budget = Create();
        budget.Charge(100, AllocationMode.NoWait);
        AdvanceTo(S(3));
        ValueTask wait = budget.ChargeAsync(1, AllocationMode.NoFail);
        AdvanceTo(S(1503));
        Assert.Equal(99.45, budget.Pressure.Some.Avg300); // 25 minutes of stall: the 300-s average is still rising
        AdvanceTo(S(10_003)); // 10000 s: every average has reached 100 % exactly, and stays there
        Assert.Equal(new StallShare(100, 100, 100, 10_000_000_000), budget.Pressure.Some);
        budget.Uncharge(1);
        await wait;
        _some.Stalled(S(3), S(10_003));

        foreach (double t in new[] { 10_003.0, 10_004.0, 10_030.0, 10_300.0, 15_000.0, 90_000.0 })
        {
            AdvanceTo(S(t));
            Assert.Equal(_some.At(S(t)), budget.Pressure.Some);
        }

        Assert.Equal(new StallShare(0, 0, 0, 10_000_000_000), budget.Pressure.Some); // hours later: decayed to nothing
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Full_is_the_time_in_which_every_registered_consumer_was_stalled()
    {
        using MemoryBudget budget = Create();
        using var aCancel = new CancellationTokenSource();
        using var bCancel = new CancellationTokenSource();
        using MemoryConsumer a = budget.RegisterConsumer("a", aCancel, MemoryConsumer.NeverKill); // never chosen: the test's waits stay waits
        using MemoryConsumer b = budget.RegisterConsumer("b", bCancel, MemoryConsumer.NeverKill);
        Assert.Equal(2, budget.Pressure.Consumers);
        budget.Charge(100, AllocationMode.NoWait);

        AdvanceTo(S(1));
        ValueTask aWait;
        using (a.Enter())
        {
            aWait = budget.ChargeAsync(10, AllocationMode.NoFail);
        }

        AdvanceTo(S(2));
        ValueTask bWait;
        using (b.Enter())
        {
            bWait = budget.ChargeAsync(10, AllocationMode.NoFail);
        }

        AdvanceTo(S(5));
        budget.Uncharge(10); // a is granted: b alone is stalled, so some goes on and full ends
        await aWait;
        AdvanceTo(S(6));
        budget.Uncharge(10);
        await bWait;
        _some.Stalled(S(1), S(6));
        _full.Stalled(S(2), S(5));

        foreach (double t in new[] { 6.0, 8.0, 10.0, 70.0 })
        {
            AdvanceTo(S(t));
            Assert.Equal(_some.At(S(t)), budget.Pressure.Some);
            Assert.Equal(_full.At(S(t)), budget.Pressure.Full);
        }

        Assert.Equal(3_000_000, budget.Pressure.Full.TotalMicroseconds);
        TestBudgets.UnchargeAs(a, budget, 10);
        TestBudgets.UnchargeAs(b, budget, 10);
        budget.Uncharge(80);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_consumer_that_ends_while_the_others_stall_leaves_them_in_full_stall()
    {
        using MemoryBudget budget = Create();
        using var aCancel = new CancellationTokenSource();
        using var idleCancel = new CancellationTokenSource();
        using MemoryConsumer a = budget.RegisterConsumer("a", aCancel, MemoryConsumer.NeverKill);
        MemoryConsumer idle = budget.RegisterConsumer("idle", idleCancel, MemoryConsumer.NeverKill);
        budget.Charge(100, AllocationMode.NoWait);

        AdvanceTo(S(1));
        ValueTask wait;
        using (a.Enter())
        {
            wait = budget.ChargeAsync(10, AllocationMode.NoFail);
        }

        AdvanceTo(S(2));
        Assert.Equal(0, budget.Pressure.Full.TotalMicroseconds); // "idle" is making progress (it is not stalled)
        idle.Dispose(); // now every registered consumer is stalled
        Assert.Equal(1, budget.Pressure.Consumers);
        AdvanceTo(S(4.5));
        budget.Uncharge(10);
        await wait;
        _full.Stalled(S(2), S(4.5));
        _some.Stalled(S(1), S(4.5));

        AdvanceTo(S(12));
        Assert.Equal(_full.At(S(12)), budget.Pressure.Full);
        Assert.Equal(_some.At(S(12)), budget.Pressure.Some);
        TestBudgets.UnchargeAs(a, budget, 10);
        budget.Uncharge(90);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_cancelled_waiter_stalls_until_it_is_cancelled()
    {
        using MemoryBudget budget = Create();
        budget.Charge(100, AllocationMode.NoWait);
        using var cancel = new CancellationTokenSource();
        AdvanceTo(S(1));
        ValueTask wait = budget.ChargeAsync(10, AllocationMode.NoFail, cancellationToken: cancel.Token);
        AdvanceTo(S(2.75));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await wait);
        _some.Stalled(S(1), S(2.75));

        AdvanceTo(S(14));
        Assert.Equal(_some.At(S(14)), budget.Pressure.Some);
        Assert.Equal(1_750_000, budget.Pressure.Some.TotalMicroseconds);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_charge_in_direct_reclaim_is_stalled_for_some_while_its_passes_run()
    {
        using MemoryBudget budget = Create();
        var slow = new SlowCache(budget, _clock, cached: 50, passTakes: S(0.3));
        using IDisposable registration = budget.RegisterReclaimer(slow, new ReclaimerOptions { Domain = "cache", Timeout = Timeout.InfiniteTimeSpan });
        budget.Charge(50, AllocationMode.NoWait);

        AdvanceTo(S(1));
        budget.Charge(20, AllocationMode.MayFail); // refused at first: one direct pass, 300 ms on the clock, frees 20
        _elapsed += S(0.3);
        _some.Stalled(S(1), S(1.3));
        Assert.Equal(1, slow.Passes);

        AdvanceTo(S(5));
        Assert.Equal(_some.At(S(5)), budget.Pressure.Some);
        Assert.Equal(300_000, budget.Pressure.Some.TotalMicroseconds);
        Assert.Equal(default, budget.Pressure.Full);

        budget.Uncharge(70);
        budget.Uncharge(slow.Cached);
        TestBudgets.AssertEmpty(budget);
    }

    /// <summary>A reclaimer whose every pass takes time on the fake clock and frees what it is asked for.</summary>
    private sealed class SlowCache : IMemoryReclaimer
    {
        private readonly MemoryBudget _budget;
        private readonly FakeTimeProvider _clock;
        private readonly TimeSpan _passTakes;

        internal SlowCache(MemoryBudget budget, FakeTimeProvider clock, long cached, TimeSpan passTakes)
        {
            _budget = budget;
            _clock = clock;
            _passTakes = passTakes;
            budget.Charge(cached, AllocationMode.NoWait);
            Cached = cached;
        }

        internal long Cached { get; private set; }

        internal int Passes { get; private set; }

        public long GetReclaimableBytes() => Cached;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
        {
            Passes++;
            _clock.Advance(_passTakes);
            long freed = Math.Min(Math.Max(target, 20), Cached);
            Cached -= freed;
            _budget.Uncharge(freed);
            return new ReclaimResult(freed);
        }
    }

    [Fact]
    public void The_reading_of_a_budget_that_is_not_the_process_budget_says_the_kernel_figures_were_not_read()
    {
        using MemoryBudget budget = Create();
        PressureReading reading = budget.Pressure.Read();
        Assert.Equal("psi", reading.Budget);
        Assert.Null(reading.SystemPressure);
        Assert.Null(reading.GroupPressure);
        Assert.Contains(reading.Unavailable, u => u.Contains("process budget", StringComparison.Ordinal));
        Assert.Contains("some avg10=0.00 avg60=0.00 avg300=0.00 total=0", reading.ToString(), StringComparison.Ordinal);
        TestBudgets.AssertEmpty(budget);
    }
}
