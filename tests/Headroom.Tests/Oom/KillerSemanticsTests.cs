namespace Headroom.Tests.Oom;

/// <summary>Semantics §7 that the killer did not keep: one victim per subtree, selectors that copy, panic without a victim, badness without overflow.</summary>
public sealed class KillerSemanticsTests
{
    private static MemoryBudget Create(OomOptions? oom = null, long capacity = 1000) => new(new MemoryBudgetOptions
    {
        Name = "engine",
        Capacity = capacity,
        MinWatermark = 100,
        LowWatermark = 100,
        HighWatermark = 100,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        Oom = oom ?? new OomOptions { KillTimeout = TimeSpan.FromHours(1) },
    });

    [Fact]
    public async Task A_victim_unwinding_in_one_subtree_holds_back_kills_there_but_not_in_a_disjoint_one()
    {
        using MemoryBudget root = Create();
        MemoryBudget left = root.CreateChild(TestBudgets.FlatChild("left", 400));
        MemoryBudget right = root.CreateChild(TestBudgets.FlatChild("right", 400));
        using var l1Cts = new CancellationTokenSource();
        using var l2Cts = new CancellationTokenSource();
        using var rCts = new CancellationTokenSource();
        using MemoryConsumer l1 = left.RegisterConsumer("l1", l1Cts);
        using MemoryConsumer l2 = left.RegisterConsumer("l2", l2Cts);
        using MemoryConsumer r = right.RegisterConsumer("r", rCts);
        TestBudgets.ChargeAs(l1, left, 250); // never gives anything back: it stays unwinding
        TestBudgets.ChargeAs(l2, left, 100);
        TestBudgets.ChargeAs(r, right, 300);

        using var cancel = new CancellationTokenSource();
        Task inLeft = left.ChargeAsync(100, AllocationMode.NoFail, cancellationToken: cancel.Token).AsTask();
        Assert.True(l1.IsKilled);
        Task inRight = right.ChargeAsync(200, AllocationMode.NoFail, cancellationToken: cancel.Token).AsTask();
        Assert.True(r.IsKilled); // a victim in a disjoint subtree holds nothing back
        Task again = left.ChargeAsync(50, AllocationMode.NoFail, cancellationToken: cancel.Token).AsTask();
        Assert.False(l2.IsKilled); // l1 still unwinds in this subtree: no second victim here

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => inLeft);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => inRight);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => again);
        TestBudgets.UnchargeAs(l1, left, 250);
        TestBudgets.UnchargeAs(l2, left, 100);
        TestBudgets.UnchargeAs(r, right, 300);
        TestBudgets.AssertEmpty(root, left, right);
    }

    [Fact]
    public void A_selector_that_returns_a_copy_of_a_candidate_chooses_that_candidate()
    {
        using MemoryBudget budget = Create(new OomOptions { Selector = candidates => candidates[^1] with { Badness = 0 } });
        using var a = new CancellationTokenSource();
        using var b = new CancellationTokenSource();
        using MemoryConsumer big = budget.RegisterConsumer("big", a);
        using MemoryConsumer small = budget.RegisterConsumer("small", b);
        TestBudgets.ChargeAs(big, budget, 500);
        TestBudgets.ChargeAs(small, budget, 100);

        OomReport report = budget.DryRunOom();
        Assert.Equal("small", report.Victim?.Name);
        Assert.Equal(100, report.Victim?.Badness); // the report carries the killer's own reading, not the copy's
        Assert.Contains("the selector chose 'small'", report.Reason, StringComparison.Ordinal);

        TestBudgets.UnchargeAs(big, budget, 500);
        TestBudgets.UnchargeAs(small, budget, 100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Panic_ends_the_process_on_OOM_even_with_no_eligible_victim()
    {
        using MemoryBudget budget = Create(new OomOptions { Policy = OomPolicy.Panic });
        using var cts = new CancellationTokenSource();
        using MemoryConsumer immune = budget.RegisterConsumer("immune", cts, MemoryConsumer.NeverKill);
        string? panic = null;
        budget.Tree.Oom.Panic = message => panic = message; // a seam: the test process goes on
        TestBudgets.ChargeAs(immune, budget, 900);

        using var cancel = new CancellationTokenSource();
        Task wait = budget.ChargeAsync(10, AllocationMode.NoFail, cancellationToken: cancel.Token).AsTask();
        Assert.NotNull(panic);
        Assert.Contains("the policy is to panic", panic, StringComparison.Ordinal);
        Assert.False(immune.IsKilled);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        TestBudgets.UnchargeAs(immune, budget, 900);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Badness_saturates_instead_of_overflowing()
    {
        using MemoryBudget budget = Create(capacity: long.MaxValue);
        using var a = new CancellationTokenSource();
        using var b = new CancellationTokenSource();
        using MemoryConsumer favoured = budget.RegisterConsumer("favoured", a, oomScoreAdj: 1000);
        using MemoryConsumer plain = budget.RegisterConsumer("plain", b);
        TestBudgets.ChargeAs(favoured, budget, 10);
        TestBudgets.ChargeAs(plain, budget, 20);

        OomReport report = budget.DryRunOom();
        Assert.Equal("favoured", report.Victim?.Name); // 10 + 1000 × C / 1000 does not wrap around to a negative
        Assert.Equal(long.MaxValue, report.Victim?.Badness);
        Assert.Equal(20, report.Candidates[^1].Badness);

        TestBudgets.UnchargeAs(favoured, budget, 10);
        TestBudgets.UnchargeAs(plain, budget, 20);
        TestBudgets.AssertEmpty(budget);
    }
}
