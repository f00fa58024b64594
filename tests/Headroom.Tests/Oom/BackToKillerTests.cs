namespace Headroom.Tests.Oom;

/// <summary>
/// Semantics §7: a waiter still parked when a victim has ended (released, or been given up on), or when its turn comes,
/// and that still does not fit, goes back to the OOM killer: a request that needs two victims gets two, one after the other.
/// </summary>
public sealed class BackToKillerTests
{
    /// <summary>A hang guard only: every wait here ends at once when the code is right.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private static MemoryBudget Create(OomOptions? oom = null) => new(new MemoryBudgetOptions
    {
        Name = "engine",
        Capacity = 1000,
        MinWatermark = 100,
        LowWatermark = 100,
        HighWatermark = 100,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        Oom = oom ?? new OomOptions { KillTimeout = TimeSpan.FromHours(1) },
    });

    /// <summary>A consumer holding <paramref name="bytes"/> that gives them back when it is killed (on whatever thread its token's callback runs).</summary>
    private static MemoryConsumer Holder(MemoryBudget budget, string name, long bytes, CancellationTokenSource cts, List<string> ledger)
    {
        MemoryConsumer consumer = budget.RegisterConsumer(name, cts);
        TestBudgets.ChargeAs(consumer, budget, bytes);
        cts.Token.Register(() =>
        {
            lock (ledger)
            {
                ledger.Add(name);
            }

            TestBudgets.UnchargeAs(consumer, budget, bytes);
        });
        return consumer;
    }

    [Fact]
    public async Task A_request_that_needs_two_victims_gets_two_one_after_the_other()
    {
        using MemoryBudget budget = Create();
        var killed = new List<string>();
        using var aCts = new CancellationTokenSource();
        using var bCts = new CancellationTokenSource();
        using MemoryConsumer a = Holder(budget, "a", 450, aCts, killed);
        using MemoryConsumer b = Holder(budget, "b", 400, bCts, killed);

        // 850 + 800 > 900 (the NoFail limit); after a's 450 are back, 400 + 800 still is: only both victims make room.
        await budget.ChargeAsync(800, AllocationMode.NoFail).AsTask().WaitAsync(Guard);

        Assert.Equal(["a", "b"], killed); // highest badness first, then the next
        Assert.True(a.IsKilled && b.IsKilled);
        Assert.Equal((0L, 0L), (a.Charged, b.Charged));
        Assert.Equal(800, budget.Used);
        Assert.Null(budget.Tree.Oom.Victim);
        budget.Uncharge(800);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_waiter_whose_turn_comes_and_that_still_does_not_fit_goes_to_the_killer()
    {
        bool allowed = false;
        using MemoryBudget budget = Create(new OomOptions
        {
            KillTimeout = TimeSpan.FromHours(1),
            Selector = candidates => Volatile.Read(ref allowed) ? candidates[0] : null,
        });
        var killed = new List<string>();
        using var vCts = new CancellationTokenSource();
        budget.Charge(300, AllocationMode.NoWait);
        using MemoryConsumer v = Holder(budget, "v", 600, vCts, killed); // 900: full for NoFail

        Task first = budget.ChargeAsync(100, AllocationMode.NoFail).AsTask(); // the selector kills nobody yet: it waits
        Task second = budget.ChargeAsync(200, AllocationMode.NoFail).AsTask(); // behind it
        TestBudgets.AssertQueued(budget, 2);
        Volatile.Write(ref allowed, true);

        budget.Uncharge(150); // 750: the first fits and is granted; the second (1050) is the head now and does not fit
        await first.WaitAsync(Guard);
        await second.WaitAsync(Guard); // it went back to the killer, which killed v: 250 + 200 fit

        Assert.Equal(["v"], killed);
        Assert.Equal(450, budget.Used);
        budget.Uncharge(450);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_reservation_that_needs_two_victims_gets_two()
    {
        using MemoryBudget budget = Create();
        var killed = new List<string>();
        using var aCts = new CancellationTokenSource();
        using var bCts = new CancellationTokenSource();
        using MemoryConsumer a = Holder(budget, "a", 450, aCts, killed);
        using MemoryConsumer b = Holder(budget, "b", 400, bCts, killed);

        using MemoryReservation reservation = await budget.ReserveAsync(800).AsTask().WaitAsync(Guard);

        Assert.Equal(["a", "b"], killed);
        Assert.Equal(800, budget.Reserved);
        Assert.Equal(0, budget.Used);
        reservation.Dispose();
        TestBudgets.AssertEmpty(budget);
    }
}
