using Microsoft.Extensions.Logging.Testing;

namespace Headroom.Tests.Reclaim;

/// <summary>Semantics §6 and §3: the priority loop, cost order, progress as bytes really uncharged, and each mode's retries.</summary>
public sealed class DirectReclaimTests
{
    private static readonly ReclaimerOptions Inline = new() { Domain = "cache", Timeout = Timeout.InfiniteTimeSpan };

    private static ReclaimerOptions Options(string domain, int cost = ReclaimerOptions.DefaultCost, bool io = false) =>
        new() { Domain = domain, Cost = cost, DoesIo = io, Timeout = Timeout.InfiniteTimeSpan };

    [Fact]
    public void The_priority_loop_asks_cheapest_first_for_a_share_that_grows_each_pass()
    {
        using MemoryBudget budget = TestBudgets.Flat(1 << 20);
        var dear = new TestCache(budget, 400_000);
        var cheap = new TestCache(budget, 400_000);
        using IDisposable d = budget.RegisterReclaimer(dear, Options("dear", cost: 8));
        using IDisposable c = budget.RegisterReclaimer(cheap, Options("cheap", cost: 1));
        budget.Charge(budget.Capacity - 800_000, AllocationMode.NoWait);

        budget.Charge(1000, AllocationMode.MayFail);

        // Priority 12: 400000 >> 12 = 97, × 4 / cost: cheap is asked for 388 first, then dear for 48, and so on.
        Assert.Equal(388, cheap.Asked[0]);
        Assert.Equal(48, dear.Asked[0]);
        Assert.True(cheap.Asked.Count >= dear.Asked.Count);
        Assert.Equal(800_000 - 1000, cheap.Cached + dear.Cached); // freed exactly the shortfall
        Assert.True(800_000 - cheap.Cached > 800_000 - dear.Cached - 400_000, "the dear cache gave more than the cheap one");

        budget.Uncharge(budget.Capacity - 800_000 + 1000);
        cheap.Drop();
        dear.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_reclaimer_on_a_child_is_reclaimed_when_an_ancestor_is_short()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 1000));
        MemoryBudget sibling = root.CreateChild(TestBudgets.FlatChild("sibling", 1000));
        var cache = new TestCache(child, 600);
        using IDisposable registration = child.RegisterReclaimer(cache, Inline);
        sibling.Charge(400, AllocationMode.NoWait);

        sibling.Charge(300, AllocationMode.MayFail); // root is full: the child's cache gives
        Assert.Equal(300, cache.Cached);
        Assert.False(child.Queue.Count > 0);

        var none = Assert.Throws<MemoryAllocationException>(() => root.CreateChild(TestBudgets.FlatChild("other", 1000)).Charge(400, AllocationMode.MayFail)); // pass frees 300, not 400
        Assert.Equal(400, none.Bytes);

        sibling.Uncharge(700);
        cache.Drop();
        TestBudgets.AssertEmpty(root, child, sibling);
    }

    [Fact]
    public void Progress_is_what_was_uncharged_not_what_was_claimed()
    {
        var logger = new FakeLogger();
        using var budget = new MemoryBudget(new MemoryBudgetOptions { Capacity = 1000, MinWatermark = 0, LowWatermark = 0, HighWatermark = 0, CanaryInterval = Timeout.InfiniteTimeSpan, Logger = logger });
        var liar = new TestCache(budget, 500) { PerCall = 0, Exaggeration = 100 };
        using IDisposable registration = budget.RegisterReclaimer(liar, Inline);
        budget.Charge(500, AllocationMode.NoWait);

        Assert.Throws<MemoryAllocationException>(() => budget.Charge(50, AllocationMode.RetryMayFail));
        int priorities = Enumerable.Range(0, Headroom.Reclaim.ReclaimDriver.DefaultPriority + 1).Count(p => (500 >> p) > 0); // 8 down to 0
        Assert.Equal(MemoryBudget.MaxReclaimRetries * priorities, liar.Asked.Count); // 16 passes without progress, then it fails
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Message.Contains("claimed 100 bytes but uncharged 0", StringComparison.Ordinal));
        Assert.Equal(1000, budget.Used);

        budget.Uncharge(500);
        liar.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void MayFail_runs_one_pass_and_RetryMayFail_keeps_going_while_it_progresses()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var cache = new TestCache(budget, 600) { PerCall = 10 };
        using IDisposable registration = budget.RegisterReclaimer(cache, Inline);
        budget.Charge(400, AllocationMode.NoWait);

        Assert.False(budget.TryCharge(200, AllocationMode.MayFail)); // one pass: 13 priorities, at most 10 a call
        Assert.True(cache.Cached >= 600 - 130);
        budget.Charge(300, AllocationMode.RetryMayFail); // several passes, each with progress
        Assert.Equal(1000, budget.Used);

        budget.Uncharge(700);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void RetryMayFail_reclaims_when_room_and_everything_reclaimable_just_cover_it_and_gives_up_at_once_when_they_fall_short()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var reclaim = new FakeReclaim(budget, cached: 600);
        budget.Charge(300, AllocationMode.NoWait); // room 100, reclaimable 600

        Assert.False(budget.TryCharge(701, AllocationMode.RetryMayFail)); // 100 + 600 < 701: no pass can help
        Assert.Equal(0, reclaim.Passes);
        Assert.True(budget.TryCharge(700, AllocationMode.RetryMayFail)); // 100 + 600 = 700: worth a pass, which frees it all
        Assert.Equal(1, reclaim.Passes);
        Assert.Equal(1000, budget.Used);

        budget.Uncharge(1000);
        TestBudgets.AssertEmpty(budget);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RetryMayFail_gives_up_after_its_pass_bound_while_other_charges_keep_taking_what_each_pass_frees(bool async)
    {
        using MemoryBudget budget = TestBudgets.Flat(100_000);
        var reclaim = new FakeReclaim(budget, cached: 90_000) { PerPass = 100, OthersTakeWhatIsFreed = true };

        // Each pass makes progress, so only the bound ends the passes: exactly MaxDirectReclaimPasses of them.
        var refused = async
            ? await Assert.ThrowsAsync<MemoryAllocationException>(() => budget.ChargeAsync(20_000, AllocationMode.RetryMayFail).AsTask())
            : Assert.Throws<MemoryAllocationException>(() => budget.Charge(20_000, AllocationMode.RetryMayFail));
        Assert.Equal(20_000, refused.Bytes);
        Assert.Equal(MemoryBudget.MaxDirectReclaimPasses, reclaim.Passes);
        Assert.Equal(MemoryBudget.MaxDirectReclaimPasses * 100L, reclaim.Taken); // every pass freed its 100 bytes, and they were taken
        Assert.Equal(90_000, budget.Used); // the refusal charged nothing

        reclaim.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_reclaimer_that_asks_to_stop_is_skipped_for_the_rest_of_the_pass()
    {
        using MemoryBudget budget = TestBudgets.Flat(1 << 20);
        var stopper = new StoppingReclaimer();
        var cache = new TestCache(budget, 500_000);
        using IDisposable s = budget.RegisterReclaimer(stopper, Options("stopper", cost: 1));
        using IDisposable c = budget.RegisterReclaimer(cache, Options("cache", cost: 4));
        budget.Charge(budget.Capacity - 500_000, AllocationMode.NoWait);

        budget.Charge(100_000, AllocationMode.MayFail);
        Assert.Equal(1, stopper.Calls);

        budget.Uncharge(budget.Capacity - 400_000);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Registration_is_validated_and_disposing_it_unregisters()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var cache = new TestCache(budget, 500);
        Assert.Equal("Domain", Assert.Throws<ArgumentException>(() => budget.RegisterReclaimer(cache, new ReclaimerOptions())).ParamName);
        Assert.Equal("Cost", Assert.Throws<ArgumentOutOfRangeException>(() => budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "x", Cost = 0 })).ParamName);
        Assert.Equal("Timeout", Assert.Throws<ArgumentOutOfRangeException>(() => budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "x", Timeout = TimeSpan.Zero })).ParamName);

        IDisposable registration = budget.RegisterReclaimer(cache, Inline);
        registration.Dispose();
        registration.Dispose();
        budget.Charge(500, AllocationMode.NoWait);
        Assert.False(budget.TryCharge(100, AllocationMode.RetryMayFail));
        Assert.Empty(cache.Asked);

        budget.Uncharge(500);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    private sealed class StoppingReclaimer : IMemoryReclaimer
    {
        internal int Calls { get; private set; }

        public long GetReclaimableBytes() => 1 << 20;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
        {
            Calls++;
            return ReclaimResult.Stop;
        }
    }
}
