namespace Headroom.Tests.Reclaim;

/// <summary>Semantics §4: scopes that keep reclaim from recursing into the code that asked.</summary>
public sealed class ScopeTests
{
    private static ReclaimerOptions Options(string domain, bool io = false) =>
        new() { Domain = domain, DoesIo = io, Timeout = Timeout.InfiniteTimeSpan };

    [Fact]
    public async Task NoReclaim_skips_that_domain_and_flows_through_await()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var fs = new TestCache(budget, 300);
        var other = new TestCache(budget, 300);
        using IDisposable f = budget.RegisterReclaimer(fs, Options("fs"));
        using IDisposable o = budget.RegisterReclaimer(other, Options("other"));
        budget.Charge(400, AllocationMode.NoWait);

        using (AllocationScope.NoReclaim("fs"))
        {
            await Task.Yield();
            await budget.ChargeAsync(200, AllocationMode.RetryMayFail);
        }

        Assert.Empty(fs.Asked);
        Assert.Equal(100, other.Cached);

        budget.Charge(200, AllocationMode.RetryMayFail); // the scope is closed: fs may give now
        Assert.NotEmpty(fs.Asked);

        budget.Uncharge(800);
        fs.Drop();
        other.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void NoIo_skips_every_reclaimer_that_does_io()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var writeback = new TestCache(budget, 500);
        using IDisposable w = budget.RegisterReclaimer(writeback, Options("fs", io: true));
        budget.Charge(500, AllocationMode.NoWait);

        using (AllocationScope.NoIo())
        {
            Assert.False(budget.TryCharge(100, AllocationMode.RetryMayFail)); // nothing reclaimable without I/O: fails at once
        }

        Assert.Empty(writeback.Asked);
        Assert.True(budget.TryCharge(100, AllocationMode.RetryMayFail));

        budget.Uncharge(600);
        writeback.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Nested_scopes_restore_exactly_what_they_changed()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var fs = new TestCache(budget, 200);
        var net = new TestCache(budget, 200);
        using IDisposable f = budget.RegisterReclaimer(fs, Options("fs"));
        using IDisposable n = budget.RegisterReclaimer(net, Options("net"));
        budget.Charge(600, AllocationMode.NoWait);

        using (AllocationScope.NoReclaim("fs"))
        {
            using (AllocationScope.NoReclaim("net"))
            {
                Assert.False(budget.TryCharge(50, AllocationMode.RetryMayFail)); // both skipped
            }

            Assert.True(budget.TryCharge(50, AllocationMode.RetryMayFail)); // net is back, fs still skipped
            Assert.Empty(fs.Asked);
            Assert.NotEmpty(net.Asked);
        }

        budget.Uncharge(650);
        fs.Drop();
        net.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Code_inside_a_reclaimer_never_recurses_into_reclaim_and_may_use_the_whole_min_reserve()
    {
        using MemoryBudget budget = TestBudgets.Small(); // capacity 1000, min 100
        var cache = new TestCache(budget, 400);
        using var depth = new ThreadLocal<int>();
        var charged = new System.Collections.Concurrent.ConcurrentBag<bool>();
        bool recursed = false;
        int test = Environment.CurrentManagedThreadId;
        cache.During = _ =>
        {
            if (Environment.CurrentManagedThreadId != test)
            {
                return; // background reclaim may call too; its transient charges would race with the test's
            }

            recursed |= ++depth.Value > 1;
            bool granted = budget.TryCharge(10, AllocationMode.RetryMayFail); // 900 + 10 committed: inside min, yet granted
            charged.Add(granted);
            if (granted)
            {
                budget.Uncharge(10);
            }

            depth.Value--;
        };
        using IDisposable registration = budget.RegisterReclaimer(cache, Options("cache"));
        budget.Charge(500, AllocationMode.NoWait);

        budget.Charge(100, AllocationMode.MayFail); // 900 + 100 > 1000 − min: reclaim runs
        Assert.NotEmpty(charged);
        Assert.All(charged, Assert.True);
        Assert.False(recursed, "a charge inside the reclaimer called the reclaimer again");

        budget.Uncharge(600);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void An_empty_domain_is_refused()
    {
        Assert.Throws<ArgumentException>(() => AllocationScope.NoReclaim(" "));
    }
}
