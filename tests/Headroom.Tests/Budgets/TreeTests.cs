namespace Headroom.Tests.Budgets;

/// <summary>Semantics §8: a charge must fit at every level; parents count their children.</summary>
public sealed class TreeTests
{
    [Fact]
    public void A_charge_at_a_child_counts_at_every_ancestor()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget tenant = root.CreateChild(TestBudgets.FlatChild("tenant", 500));
        MemoryBudget query = tenant.CreateChild(TestBudgets.FlatChild("query", 200));

        query.Charge(150, AllocationMode.NoWait);
        tenant.Charge(100, AllocationMode.NoWait);
        Assert.Equal((150, 250, 250), (query.Used, tenant.Used, root.Used));
        Assert.Same(tenant, query.Parent);
        Assert.Same(root, tenant.Parent);

        query.Uncharge(150);
        tenant.Uncharge(100);
        TestBudgets.AssertEmpty(root, tenant, query);
    }

    [Fact]
    public void A_refusal_at_any_level_leaves_every_level_unchanged()
    {
        using MemoryBudget root = TestBudgets.Flat(100, "root");
        MemoryBudget a = root.CreateChild(TestBudgets.FlatChild("a", 80));
        MemoryBudget b = root.CreateChild(TestBudgets.FlatChild("b", 80));
        b.Charge(70, AllocationMode.NoWait);

        var e = Assert.Throws<MemoryAllocationException>(() => a.Charge(40, AllocationMode.NoWait)); // fits a, not root
        Assert.Equal("a", e.Budget.Name);
        Assert.Equal("root", e.RefusedBy.Name);
        Assert.Contains("ancestor", e.Message, StringComparison.Ordinal);
        Assert.Equal((0, 70, 70), (a.Used, b.Used, root.Used));

        Assert.False(b.TryCharge(20)); // fits root, not b
        Assert.Equal((0, 70, 70), (a.Used, b.Used, root.Used));

        b.Uncharge(70);
        TestBudgets.AssertEmpty(root, a, b);
    }

    [Fact]
    public async Task A_waiter_held_up_by_the_parent_is_woken_by_a_sibling_uncharge()
    {
        using MemoryBudget root = TestBudgets.Flat(100, "root");
        MemoryBudget a = root.CreateChild(TestBudgets.FlatChild("a", 100));
        MemoryBudget b = root.CreateChild(TestBudgets.FlatChild("b", 100));
        b.Charge(100, AllocationMode.NoWait);

        ValueTask wait = a.ChargeAsync(30, AllocationMode.NoFail);
        TestBudgets.AssertQueued(root, 1);
        TestBudgets.AssertQueued(a, 0);

        b.Uncharge(30);
        await wait;
        Assert.Equal((30, 70, 100), (a.Used, b.Used, root.Used));

        a.Uncharge(30);
        b.Uncharge(70);
        TestBudgets.AssertEmpty(root, a, b);
    }

    [Fact]
    public async Task A_waiter_held_up_by_its_own_level_does_not_block_its_siblings()
    {
        using MemoryBudget root = TestBudgets.Flat(100, "root");
        MemoryBudget a = root.CreateChild(TestBudgets.FlatChild("a", 20));
        MemoryBudget b = root.CreateChild(TestBudgets.FlatChild("b", 100));
        a.Charge(20, AllocationMode.NoWait);

        ValueTask wait = a.ChargeAsync(10, AllocationMode.NoFail);
        TestBudgets.AssertQueued(a, 1);
        Assert.True(b.TryCharge(50)); // nothing queued at root or b

        a.Uncharge(10);
        await wait;
        a.Uncharge(20);
        b.Uncharge(50);
        TestBudgets.AssertEmpty(root, a, b);
    }

    [Fact]
    public async Task A_waiter_that_fits_its_child_queues_at_the_root_behind_an_older_waiter()
    {
        using MemoryBudget root = TestBudgets.Flat(100, "root");
        MemoryBudget a = root.CreateChild(TestBudgets.FlatChild("a", 60));
        MemoryBudget b = root.CreateChild(TestBudgets.FlatChild("b", 100));
        a.Charge(60, AllocationMode.NoWait);
        b.Charge(40, AllocationMode.NoWait);

        ValueTask older = b.ChargeAsync(30, AllocationMode.NoFail); // fits b, not root
        ValueTask younger = a.ChargeAsync(10, AllocationMode.NoFail); // does not fit a
        TestBudgets.AssertQueued(root, 1);
        TestBudgets.AssertQueued(a, 1);

        a.Uncharge(30); // a has room for the younger; root has room for either, but the older goes first
        await older;
        Assert.False(younger.IsCompleted);
        TestBudgets.AssertQueued(a, 0);
        TestBudgets.AssertQueued(root, 1); // the younger now waits at the root
        Assert.Equal((30, 70, 100), (a.Used, b.Used, root.Used));

        b.Uncharge(10);
        await younger;
        Assert.Equal((40, 60, 100), (a.Used, b.Used, root.Used));

        a.Uncharge(40);
        b.Uncharge(60);
        TestBudgets.AssertEmpty(root, a, b);
    }

    [Fact]
    public void A_child_may_not_be_larger_than_its_parent()
    {
        using MemoryBudget root = TestBudgets.Flat(100, "root");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => root.CreateChild("big", 101));
        Assert.Contains("101", e.Message, StringComparison.Ordinal);
        Assert.Contains("exceed", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => root.CreateChild("none", 0));
    }

    [Fact]
    public void Disposing_a_parent_disposes_its_children()
    {
        var root = TestBudgets.Flat(100, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 50));
        child.Charge(10, AllocationMode.NoWait);

        root.Dispose();
        Assert.True(child.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => child.Charge(1, AllocationMode.NoWait));
        Assert.Throws<ObjectDisposedException>(() => root.CreateChild("late", 10));
        child.Uncharge(10);
        TestBudgets.AssertEmpty(root, child);
    }

    [Fact]
    public void A_disposed_child_leaves_its_parent_usable()
    {
        using MemoryBudget root = TestBudgets.Flat(100, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 50));
        child.Dispose();
        child.Dispose(); // harmless
        root.Charge(100, AllocationMode.NoWait);
        root.Uncharge(100);
        TestBudgets.AssertEmpty(root, child);
    }
}
