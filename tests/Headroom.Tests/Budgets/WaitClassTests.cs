using Headroom.Accounting;

namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §3: FIFO among equal callers only. An ordinary waiter holds back ordinary arrivals of every mode, and
/// never a caller with a deeper floor (High, interrupt-like, an OOM victim, reclaim context); a deeper waiter holds
/// back its own class and every shallower one.
/// </summary>
public sealed class WaitClassTests
{
    /// <summary>Capacity 1000, min 100 (High may go to 950, interrupt-like to 962), 880 used, a 100-byte ordinary waiter queued at the root.</summary>
    private static (MemoryBudget Root, MemoryBudget Child, ValueTask Waiter) RootWithOrdinaryWaiter()
    {
        MemoryBudget root = TestBudgets.Small("root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 500));
        root.Charge(880, AllocationMode.NoWait, AllocationPriority.High);
        ValueTask waiter = root.ChargeAsync(100, AllocationMode.NoFail); // 980 > 1000 − min: it queues
        TestBudgets.AssertQueued(root, 1);
        return (root, child, waiter);
    }

    [Fact]
    public async Task An_ordinary_waiter_at_the_root_holds_back_ordinary_charges_in_the_tree_and_no_deeper_class()
    {
        (MemoryBudget root, MemoryBudget child, ValueTask waiter) = RootWithOrdinaryWaiter();
        using (root)
        {
            // Ordinary callers of any mode are its equals: they keep their place behind it, with room or without.
            root.Uncharge(880 - 850); // 850 used: 10 bytes would fit above min (900), the waiter's 100 would not
            Assert.False(child.TryCharge(10, AllocationMode.NoWait));
            Assert.False(child.TryCharge(10, AllocationMode.MayFail));

            // Deeper floors are not held behind it: interrupt-like (NoWait High) and blocking High at a child.
            Assert.True(child.TryCharge(40, AllocationMode.NoWait, AllocationPriority.High));
            Assert.True(child.TryCharge(30, AllocationMode.MayFail, AllocationPriority.High));
            await child.ChargeAsync(20, AllocationMode.NoFail, AllocationPriority.High); // granted at once, not queued
            Assert.Equal(940, root.Used);
            Assert.False(waiter.IsCompleted);

            child.Uncharge(90);
            root.Uncharge(850 - 100);
            await waiter; // the ordinary waiter was never overtaken by its equals
            Assert.Equal(200, root.Used);
            root.Uncharge(200);
            TestBudgets.AssertEmpty(root, child);
        }
    }

    [Fact]
    public async Task A_high_waiter_holds_back_ordinary_arrivals_and_its_own_class()
    {
        using MemoryBudget root = TestBudgets.Small("root");
        root.Charge(950, AllocationMode.NoWait, AllocationPriority.High); // at the High floor (min / 2 = 50)
        ValueTask high = root.ChargeAsync(40, AllocationMode.NoFail, AllocationPriority.High);
        TestBudgets.AssertQueued(root, 1);

        root.Uncharge(300); // 650 used: everyone would fit
        await high; // the uncharge granted it

        // Queue it again, and check who may pass while it waits.
        root.Charge(260, AllocationMode.NoWait, AllocationPriority.High); // 950
        ValueTask second = root.ChargeAsync(40, AllocationMode.NoFail, AllocationPriority.High);
        Assert.False(second.IsCompleted);
        Assert.True(root.TryCharge(12, AllocationMode.NoWait, AllocationPriority.High)); // interrupt-like is deeper still: 962
        root.Uncharge(12 + 35); // 915: the waiter needs 40 at the 950 ceiling and has 35
        Assert.False(second.IsCompleted);
        Assert.False(root.TryCharge(5, AllocationMode.MayFail, AllocationPriority.High)); // its own class keeps its order
        Assert.False(root.TryCharge(5, AllocationMode.MayFail)); // and ordinary callers stay behind a deeper waiter

        root.Uncharge(5);
        await second;
        Assert.Equal(950, root.Used);
        root.Uncharge(950);
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task A_deeper_waiter_moved_into_a_queue_of_ordinary_ones_goes_first_and_is_woken_first()
    {
        using MemoryBudget root = TestBudgets.Flat(100, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 100));
        root.Charge(100, AllocationMode.NoWait);
        ValueTask ordinary = root.ChargeAsync(30, AllocationMode.NoFail);
        ValueTask high = child.ChargeAsync(30, AllocationMode.NoFail, AllocationPriority.High);
        TestBudgets.AssertQueued(root, 2);
        Assert.Equal(Floor.HalfMin, root.Queue.Head!.Floor); // the High waiter heads the queue though it came second

        root.Uncharge(30); // room for one of them: the deeper class
        await high;
        Assert.False(ordinary.IsCompleted);
        root.Uncharge(30);
        await ordinary;

        child.Uncharge(30);
        root.Uncharge(70); // what is left of its own 100, and the ordinary waiter's 30
        TestBudgets.AssertEmpty(root, child);
    }
}
