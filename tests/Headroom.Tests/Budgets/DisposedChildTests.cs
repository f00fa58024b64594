using Headroom.Reclaim;
using Headroom.Tests.Reclaim;

namespace Headroom.Tests.Budgets;

/// <summary>
/// What disposing a child does (the remarks of <see cref="MemoryBudget.Dispose"/>): nothing new starts on it, its
/// waiters fail, what it holds stays charged until given back, and its reclaimers still free memory for its parent.
/// </summary>
public sealed class DisposedChildTests
{
    [Fact]
    public async Task A_disposed_child_refuses_new_work_fails_its_waiters_and_keeps_its_charges_until_they_are_returned()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 400));
        child.Charge(300, AllocationMode.NoWait);
        ChargeLease lease = child.Lease(100, AllocationMode.NoWait);
        MemoryReservation reservation = await root.ReserveAsync(200); // at the root: the root's waiter below queues behind nothing
        ValueTask waiting = child.ChargeAsync(50, AllocationMode.NoFail); // the child is full
        TestBudgets.AssertQueued(child, 1);

        child.Dispose();
        ObjectDisposedException e = await Assert.ThrowsAsync<ObjectDisposedException>(async () => await waiting);
        Assert.Contains("'child'", e.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => child.TryCharge(1));
        Assert.Throws<ObjectDisposedException>(() => child.TryReserve(1, out _));
        Assert.Throws<ObjectDisposedException>(() => child.CreateChild("grandchild", 10));
        using var cancel = new CancellationTokenSource();
        Assert.Throws<ObjectDisposedException>(() => child.RegisterConsumer("late", cancel));
        Assert.Throws<ObjectDisposedException>(() => child.RegisterReclaimer(new TestCache(root, 1), new ReclaimerOptions { Domain = "late" }));
        root.Uncharge(1); // the cache above charged its byte to the root

        Assert.Equal(400, child.Used); // what it holds stays charged, here and above
        Assert.Equal(400 + 200, root.Committed);
        child.Uncharge(300);
        lease.Dispose();
        reservation.Dispose();
        Assert.Equal(0, root.Committed);
        TestBudgets.AssertEmpty(root, child);
    }

    [Fact]
    public void A_disposed_childs_reclaimer_still_frees_its_memory_for_the_parent()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 600));
        var cache = new TestCache(child, 600);
        using IDisposable registration = child.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "cache" });
        root.Charge(400, AllocationMode.NoWait);
        child.Dispose();

        root.Charge(500, AllocationMode.RetryMayFail); // only the disposed child's cache can make room
        Assert.Equal(100, cache.Cached);
        Assert.Equal(1000, root.Used);

        root.Uncharge(900);
        child.Uncharge(100);
        TestBudgets.AssertEmpty(root, child);
    }
}
