using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Oom;

/// <summary>
/// The two readings a health check takes (issue 14): <see cref="MemoryBudget.UnwindingVictim"/> (a kill pending in the
/// subtree) and <see cref="MemoryBudget.OldestStall"/> (a wait past its canary interval, by the canary's own rule), each
/// scoped to the budget's subtree.
/// </summary>
public sealed class HealthReadingTests
{
    [Fact]
    public async Task A_pending_kill_is_read_in_the_victims_subtree_only_and_ends_when_it_gives_its_memory_back()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "engine");
        MemoryBudget left = root.CreateChild(TestBudgets.FlatChild("left", 400));
        MemoryBudget right = root.CreateChild(TestBudgets.FlatChild("right", 400));
        using var cancellation = new CancellationTokenSource();
        using MemoryConsumer query = left.RegisterConsumer("query-7", cancellation);
        TestBudgets.ChargeAs(query, left, 400);
        Assert.Null(root.UnwindingVictim);

        Task waiting = left.ChargeAsync(100, AllocationMode.NoFail).AsTask(); // no progress in "left": its consumer is killed
        Assert.True(query.IsKilled);
        Assert.Same(query, left.UnwindingVictim);
        Assert.Same(query, root.UnwindingVictim);
        Assert.Null(right.UnwindingVictim);

        TestBudgets.UnchargeAs(query, left, 400);
        await waiting;
        Assert.Null(left.UnwindingVictim);
        Assert.Null(root.UnwindingVictim);
        left.Uncharge(100);
        TestBudgets.AssertEmpty(root, left, right);
    }

    [Fact]
    public async Task A_stall_is_read_once_a_wait_passes_its_canary_interval_in_the_subtree_that_waits()
    {
        var clock = new FakeTimeProvider();
        MemoryBudgetOptions options = TestBudgets.Flat("engine", 1000);
        options.CanaryInterval = TimeSpan.FromSeconds(5);
        options.TimeProvider = clock;
        using var root = new MemoryBudget(options);
        MemoryBudget left = root.CreateChild(TestBudgets.FlatChild("left", 400));
        MemoryBudget right = root.CreateChild(TestBudgets.FlatChild("right", 400));
        left.Charge(400, AllocationMode.NoWait);

        Task waiting = left.ChargeAsync(100, AllocationMode.NoFail).AsTask();
        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Null(root.OldestStall); // waiting, not stalled
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(6), left.OldestStall);
        Assert.Equal(TimeSpan.FromSeconds(6), root.OldestStall);
        Assert.Null(right.OldestStall);

        left.Uncharge(400);
        await waiting;
        Assert.Null(root.OldestStall);
        left.Uncharge(100);
        TestBudgets.AssertEmpty(root, left, right);
    }
}
