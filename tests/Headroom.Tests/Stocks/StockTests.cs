using Headroom.Stocks;

namespace Headroom.Tests.Stocks;

/// <summary>
/// Per-thread stocks (semantics §1): what they hold, their bounds, and that batching never causes an outcome exact
/// accounting would not. Each test's ledger is its own count of the bytes it holds; the budget's Used must match it.
/// </summary>
public sealed class StockTests
{
    private const long MiB = 1L << 20;
    private const long KiB = 1024;

    [Fact]
    public void A_charge_stocks_a_batch_and_a_drain_gives_it_back()
    {
        using MemoryBudget budget = TestBudgets.Flat(16 * MiB);
        long batch = StockBounds.Batch(budget.Capacity);
        Assert.Equal(64 * KiB, batch);

        Assert.True(budget.TryCharge(4 * KiB));
        Assert.Equal(4 * KiB, budget.Used);
        Assert.Equal(batch, budget.Stocked);
        Assert.Equal(4 * KiB + batch, budget.Committed);
        MemoryBudgetSnapshot s = budget.GetSnapshot();
        Assert.Equal((4 * KiB, 0L, batch), (s.Used, s.Reserved, s.Stocked));
        Assert.Equal(budget.Committed, s.Committed);

        Assert.True(budget.TryCharge(4 * KiB)); // from the stock: Committed does not move
        Assert.Equal(4 * KiB + batch, budget.Committed);
        Assert.Equal(8 * KiB, budget.Used);

        budget.Uncharge(4 * KiB); // into the stock
        budget.Uncharge(4 * KiB); // the stock is full: exact
        Assert.Equal(0, budget.Used);
        Assert.Equal(batch, budget.Stocked);

        budget.DrainStocks();
        Assert.Equal(0, budget.Stocked);
        Assert.Equal(0, budget.Committed);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Stocks_held_by_other_threads_never_refuse_a_charge_that_exact_accounting_grants()
    {
        using MemoryBudget budget = TestBudgets.Flat(16 * MiB);
        using var a = new StockThread();
        using var b = new StockThread();
        a.Run(() => Assert.True(budget.TryCharge(1)));
        b.Run(() => Assert.True(budget.TryCharge(1)));
        Assert.Equal(2 * StockBounds.Batch(budget.Capacity), budget.Stocked);

        // Exactly what is left once the stocks are counted out: it fits only if both are drained first.
        Assert.True(budget.TryCharge(budget.Capacity - 2, AllocationMode.NoWait));
        Assert.Equal(budget.Capacity, budget.Used);
        Assert.Equal(0, budget.Stocked);
        Assert.Equal(budget.Capacity, budget.Committed);

        budget.Uncharge(budget.Capacity - 2);
        a.Run(() => budget.Uncharge(1));
        b.Run(() => budget.Uncharge(1));
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_reservation_is_admitted_past_other_threads_stocks()
    {
        using MemoryBudget budget = TestBudgets.Flat(16 * MiB);
        using var a = new StockThread();
        a.Run(() => Assert.True(budget.TryCharge(1)));

        Assert.True(budget.TryReserve(budget.Capacity - 1, out MemoryReservation? reservation));
        Assert.Equal(0, budget.Stocked);
        reservation.Dispose();
        a.Run(() => budget.Uncharge(1));
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_waiter_is_woken_by_an_uncharge_on_a_thread_that_stocks()
    {
        using MemoryBudget budget = TestBudgets.Flat(16 * MiB);
        using var a = new StockThread();
        a.Run(() =>
        {
            Assert.True(budget.TryCharge(4 * KiB)); // refills
            Assert.True(budget.TryCharge(4 * KiB)); // from the stock
        });

        Task wait = budget.ChargeAsync(budget.Capacity - 4 * KiB, AllocationMode.NoFail).AsTask();
        Assert.False(wait.IsCompleted); // the drain gave the stock back, and 8 KiB are still in use
        Assert.Equal(0, budget.Stocked);
        TestBudgets.AssertQueued(budget, 1);

        a.Run(() => budget.Uncharge(4 * KiB)); // must not go into the stock: it is the waiter's
        await wait.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(budget.Capacity, budget.Used);
        Assert.Equal(0, budget.Stocked);

        a.Run(() =>
        {
            budget.Uncharge(4 * KiB);
            Assert.True(budget.TryCharge(4 * KiB)); // the last 4 KiB: granted exactly, with no room for a batch
            Assert.Equal(0, budget.Stocked);
            budget.Uncharge(4 * KiB);
        });
        budget.Uncharge(budget.Capacity - 4 * KiB);
        TestBudgets.AssertEmpty(budget);
    }

    /// <summary>
    /// A waiter queued at one child (refused by its own capacity) may move to the root's queue when that child frees
    /// memory. While it waits anywhere in the tree no stock refills, so a sibling's stock cannot hold the root's last
    /// bytes away from it when it moves.
    /// </summary>
    [Fact]
    public async Task While_anyone_waits_in_the_tree_no_stock_refills()
    {
        using MemoryBudget root = TestBudgets.Flat(16 * MiB, "root");
        using MemoryBudget x = root.CreateChild(TestBudgets.FlatChild("x", 8 * MiB));
        using MemoryBudget y = root.CreateChild(TestBudgets.FlatChild("y", 16 * MiB));
        using var p = new StockThread();
        using var b = new StockThread();
        p.Run(() => x.Charge(8 * MiB, AllocationMode.NoWait)); // x full (too large for a stock)

        Task wait = x.ChargeAsync(8 * KiB, AllocationMode.NoFail).AsTask();
        TestBudgets.AssertQueued(x, 1);

        b.Run(() =>
        {
            y.Charge(8 * MiB - 72 * KiB, AllocationMode.NoWait);
            Assert.True(y.TryCharge(4 * KiB)); // room for a batch at y and the root, but somebody waits: exact
        });
        Assert.Equal(0, root.Stocked);

        p.Run(() => x.Uncharge(8 * KiB)); // x has room now, and so has the root, exactly
        await wait.WaitAsync(TimeSpan.FromSeconds(30));

        x.Uncharge(8 * KiB);
        p.Run(() => x.Uncharge(8 * MiB - 8 * KiB));
        b.Run(() =>
        {
            y.Uncharge(4 * KiB);
            y.Uncharge(8 * MiB - 72 * KiB);
        });
        TestBudgets.AssertEmpty(x, y, root);
    }

    [Fact]
    public void Charges_served_from_a_childs_stock_respect_the_childs_capacity()
    {
        using MemoryBudget root = TestBudgets.Flat(64 * MiB, "root");
        using MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 2 * MiB));
        long held = 0;
        while (child.TryCharge(4 * KiB))
        {
            held += 4 * KiB;
            Assert.InRange(child.Committed, 0, child.Capacity);
        }

        Assert.Equal(child.Capacity, held); // exactly what exact accounting grants
        Assert.Equal(held, child.Used);
        Assert.Equal(held, root.Used);
        Assert.Equal(0, child.Stocked); // the refusal drained them

        for (long i = 0; i < held; i += 4 * KiB)
        {
            child.Uncharge(4 * KiB);
        }

        TestBudgets.AssertEmpty(child, root);
    }

    [Fact]
    public void A_budget_below_one_MiB_has_no_stocks()
    {
        using MemoryBudget small = TestBudgets.Flat(MiB - 1);
        using MemoryBudget tiny = TestBudgets.Small();
        Assert.Equal(0, StockBounds.Batch(small.Capacity));
        Assert.True(small.TryCharge(4 * KiB));
        Assert.True(tiny.TryCharge(10));
        Assert.Equal((0L, 4 * KiB), (small.Stocked, small.Committed));
        Assert.Equal((0L, 10L), (tiny.Stocked, tiny.Committed));
        small.Uncharge(4 * KiB);
        tiny.Uncharge(10);
        Assert.False(small.Tree.Stocks.Any);
        TestBudgets.AssertEmpty(small, tiny);
    }

    [Fact]
    public void No_more_than_a_sixteenth_of_capacity_is_ever_stocked()
    {
        using MemoryBudget budget = TestBudgets.Flat(16 * MiB);
        var threads = new List<StockThread>();
        try
        {
            for (int i = 0; i < 20; i++)
            {
                var thread = new StockThread();
                threads.Add(thread);
                thread.Run(() => Assert.True(budget.TryCharge(1)));
                Assert.InRange(budget.Stocked, 0, budget.Capacity / 16);
            }

            Assert.Equal(StockBounds.MaxStocks(budget.Capacity) * StockBounds.Batch(budget.Capacity), budget.Stocked);
            Assert.Equal(20, budget.Used);
            foreach (StockThread thread in threads)
            {
                thread.Run(() => budget.Uncharge(1));
            }
        }
        finally
        {
            threads.ForEach(t => t.Dispose());
        }

        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void An_uncharge_inside_a_reclaimer_is_not_stocked()
    {
        using MemoryBudget budget = TestBudgets.Flat(16 * MiB);
        Assert.True(budget.TryCharge(4 * KiB));
        Assert.True(budget.TryCharge(4 * KiB)); // the stock now has room for 4 KiB
        long stocked = budget.Stocked;

        var progress = new ReclaimProgress();
        using (new AllocationScope(AllocationContext.InReclaim(progress)))
        {
            budget.Uncharge(4 * KiB);
        }

        Assert.Equal(stocked, budget.Stocked); // it went to Committed, where a waiter can have it
        Assert.Equal(4 * KiB, progress.Uncharged);
        budget.Uncharge(4 * KiB);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void An_uncharge_above_Used_is_refused_while_the_stock_holds_bytes()
    {
        using MemoryBudget budget = TestBudgets.Flat(16 * MiB);
        Assert.True(budget.TryCharge(100));
        Assert.Throws<ArgumentOutOfRangeException>(() => budget.Uncharge(200));
        Assert.Equal(100, budget.Used);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Disposing_the_root_drains_its_stocks()
    {
        var budget = TestBudgets.Flat(16 * MiB);
        Assert.True(budget.TryCharge(4 * KiB));
        budget.Uncharge(4 * KiB);
        Assert.NotEqual(0, budget.Stocked);
        budget.Dispose();
        Assert.Equal(0, budget.Stocked);
        Assert.Equal(0, budget.Committed);
    }
}
