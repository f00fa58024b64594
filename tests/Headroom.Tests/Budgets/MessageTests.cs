namespace Headroom.Tests.Budgets;

/// <summary>Semantics §10: every refusal names what it refused (the budget, reservation or consumer, the parameter) and changes nothing.</summary>
public sealed class MessageTests
{
    [Fact]
    public void Use_after_dispose_names_the_budget_reservation_and_consumer()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000, "engine");
        using var cancellation = new CancellationTokenSource();
        MemoryConsumer consumer = budget.RegisterConsumer("query-7", cancellation);
        consumer.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => consumer.Enter());
        Assert.Equal("query-7", e.ObjectName);
        Assert.Contains("'query-7' of budget 'engine'", e.Message, StringComparison.Ordinal);

        Assert.True(budget.TryReserve(10, out MemoryReservation? reservation));
        reservation.Dispose();
        e = Assert.Throws<ObjectDisposedException>(() => reservation.TryCharge(1));
        Assert.Contains("engine", e.ObjectName, StringComparison.Ordinal);
        Assert.Contains("reservation on budget 'engine'", e.Message, StringComparison.Ordinal);

        MemoryBudget child = budget.CreateChild("tenant", 100);
        child.Dispose();
        e = Assert.Throws<ObjectDisposedException>(() => child.TryCharge(1));
        Assert.Equal("tenant", e.ObjectName);
        e = Assert.Throws<ObjectDisposedException>(() => child.CreateChild("grandchild", 10));
        Assert.Equal("tenant", e.ObjectName);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_scope_disposed_out_of_order_is_refused_and_stays_open()
    {
        AllocationContext? before = AllocationContext.Current;
        AllocationScope outer = AllocationScope.NoIo();
        AllocationScope inner = AllocationScope.NoReclaim("fs");
        AllocationContext? innermost = AllocationContext.Current;

        Assert.Throws<InvalidOperationException>(outer.Dispose);
        Assert.Same(innermost, AllocationContext.Current); // nothing restored: the inner scope still holds

        inner.Dispose();
        Assert.True(AllocationContext.Current!.NoIo);
        Assert.Empty(AllocationContext.Current.NoReclaim);
        outer.Dispose(); // in order now
        Assert.Same(before, AllocationContext.Current);
        outer.Dispose(); // twice is harmless
        inner.Dispose();
    }

    [Fact]
    public void Nested_scopes_with_the_same_domain_are_told_apart()
    {
        AllocationContext? before = AllocationContext.Current;
        AllocationScope outer = AllocationScope.NoReclaim("fs");
        AllocationScope inner = AllocationScope.NoReclaim("fs"); // the same restriction again: still its own scope
        Assert.Throws<InvalidOperationException>(outer.Dispose);
        inner.Dispose();
        outer.Dispose();
        Assert.Same(before, AllocationContext.Current);
    }

    [Fact]
    public void TryCharge_applies_its_sites_policy_without_ever_waiting()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        var reclaim = new FakeReclaim(budget, 100) { PerPass = 3 }; // each direct pass frees 3 bytes

        // Without a policy, MayFail runs one pass: 3 bytes are not 10.
        Assert.False(budget.TryCharge(10, AllocationMode.MayFail, site: "journal"));
        Assert.Equal(1, reclaim.Passes);

        // A site that retries: the try reclaims pass after pass, as RetryMayFail, until the 10 bytes fit.
        budget.SetSitePolicy("journal", new SitePolicy { MaxRetries = 4 });
        Assert.True(budget.TryCharge(10, AllocationMode.MayFail, site: "journal"));
        Assert.Equal(100 - 3 - 3 - 3 - 1, reclaim.Cached); // the first pass's 3, then passes until the 10 bytes fit, the last asked for 1

        // A site that waits: a try still never waits, it reclaims as RetryMayFail and then answers.
        budget.SetSitePolicy("journal", new SitePolicy { RetryForever = true });
        reclaim.PerPass = 0;
        long used = budget.Used;
        Assert.False(budget.TryCharge(10, AllocationMode.MayFail, site: "journal"));
        Assert.Equal(used, budget.Used);
        Assert.Equal(0, budget.Queue.Count);

        // NoWait stays NoWait whatever the policy: no reclaim.
        int passes = reclaim.Passes;
        Assert.False(budget.TryCharge(10, AllocationMode.NoWait, site: "journal"));
        Assert.Equal(passes, reclaim.Passes);

        budget.Uncharge(10);
        reclaim.Drop();
        TestBudgets.AssertEmpty(budget);
    }
}
