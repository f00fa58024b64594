using Microsoft.Extensions.Logging.Testing;

namespace Headroom.Tests.Oom;

/// <summary>Semantics §7: whom the OOM killer chooses, how it kills, and what it reports.</summary>
public sealed class OomKillerTests
{
    private static MemoryBudget Create(OomOptions? oom = null, FakeLogger? logger = null) => new(new MemoryBudgetOptions
    {
        Name = "engine",
        Capacity = 1000,
        MinWatermark = 100,
        LowWatermark = 100,
        HighWatermark = 100,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        Oom = oom ?? new OomOptions(),
        Logger = logger,
    });

    [Fact]
    public void The_dry_run_names_the_highest_badness_and_lists_everyone()
    {
        using MemoryBudget budget = Create();
        using var a = new CancellationTokenSource();
        using var b = new CancellationTokenSource();
        using var c = new CancellationTokenSource();
        using MemoryConsumer big = budget.RegisterConsumer("big", a);
        using MemoryConsumer favoured = budget.RegisterConsumer("favoured", b, oomScoreAdj: 300);
        using MemoryConsumer immune = budget.RegisterConsumer("immune", c, oomScoreAdj: MemoryConsumer.NeverKill);
        TestBudgets.ChargeAs(big, budget, 300);
        TestBudgets.ChargeAs(favoured, budget, 100); // 100 + 300 × 1000 / 1000 = 400
        TestBudgets.ChargeAs(immune, budget, 400);

        OomReport report = budget.DryRunOom(50);
        Assert.True(report.DryRun);
        Assert.Equal("favoured", report.Victim?.Name);
        Assert.Equal(["favoured", "big", "immune"], report.Candidates.Select(x => x.Name));
        Assert.Equal([400L, 300L, -600L], report.Candidates.Select(x => x.Badness));
        Assert.False(report.Candidates[2].Eligible);
        Assert.Contains("highest badness (400)", report.Reason, StringComparison.Ordinal);
        Assert.Contains("* favoured", report.ToString(), StringComparison.Ordinal);
        Assert.False(favoured.IsKilled); // a dry run kills nobody
        Assert.False(b.IsCancellationRequested);

        TestBudgets.UnchargeAs(big, budget, 300);
        TestBudgets.UnchargeAs(favoured, budget, 100);
        TestBudgets.UnchargeAs(immune, budget, 400);
        Assert.Equal((0L, 0L, 0L), (big.Charged, favoured.Charged, immune.Charged));
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_NoFail_charge_without_progress_kills_the_victim_and_reaps_its_reservation()
    {
        var logger = new FakeLogger();
        using MemoryBudget budget = Create(logger: logger);
        using var cts = new CancellationTokenSource();
        using MemoryConsumer victim = budget.RegisterConsumer("query-7", cts);
        OomReport? reported = null;
        budget.OutOfMemory += (_, report) => reported = report;
        MemoryReservation held;
        using (victim.Enter())
        {
            held = await budget.ReserveAsync(500);
        }

        budget.Charge(400, AllocationMode.NoWait);
        Assert.Equal(500, victim.Reserved);

        await budget.ChargeAsync(300, AllocationMode.NoFail); // no reclaimer: no progress; the kill reaps 500

        Assert.True(victim.IsKilled);
        await victim.Killing; // cancellation is signalled on the reaper's side, not on the allocating thread
        Assert.True(cts.IsCancellationRequested);
        Assert.True(held.IsDisposed);
        Assert.Equal(0, budget.Reserved);
        Assert.Equal("query-7", reported?.Victim?.Name);
        Assert.False(reported!.DryRun);
        Assert.Equal(300, reported.RequestedBytes);
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Message.Contains("Out of memory", StringComparison.Ordinal));
        Assert.Null(budget.Tree.Oom.Victim); // all it held was reapable: done

        budget.Uncharge(700);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Only_one_victim_at_a_time_and_a_victim_unwinds_with_half_the_min_reserve()
    {
        using MemoryBudget budget = Create(new OomOptions { KillTimeout = TimeSpan.FromHours(1) });
        using var first = new CancellationTokenSource();
        using var second = new CancellationTokenSource();
        using MemoryConsumer a = budget.RegisterConsumer("a", first);
        using MemoryConsumer b = budget.RegisterConsumer("b", second);
        TestBudgets.ChargeAs(a, budget, 500);
        TestBudgets.ChargeAs(b, budget, 400); // 900: the NoFail limit

        Task waiting = budget.ChargeAsync(60, AllocationMode.NoFail).AsTask(); // kills a; even at min / 2, 960 does not fit
        Assert.True(a.IsKilled);
        Assert.False(waiting.IsCompleted);

        using (a.Enter())
        {
            budget.Charge(40, AllocationMode.NoWait); // the victim may dip to 1000 − min / 2 while it unwinds, past the queue
        }

        Task another = budget.ChargeAsync(10, AllocationMode.NoFail).AsTask();
        Assert.False(b.IsKilled); // a is still unwinding: no second victim
        Assert.Same(a, budget.Tree.Oom.Victim);

        Assert.Equal(540, a.Charged);
        TestBudgets.UnchargeAs(a, budget, 540); // it gives everything back: done, and the waiters fit
        await waiting;
        await another;
        Assert.Null(budget.Tree.Oom.Victim);
        Assert.False(b.IsKilled);

        budget.Uncharge(70);
        TestBudgets.UnchargeAs(b, budget, 400);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Only_the_short_subtree_is_searched_and_the_immune_are_never_chosen()
    {
        var logger = new FakeLogger();
        using MemoryBudget root = Create(logger: logger);
        MemoryBudget left = root.CreateChild(TestBudgets.FlatChild("left", 300));
        MemoryBudget right = root.CreateChild(TestBudgets.FlatChild("right", 1000));
        using var l = new CancellationTokenSource();
        using var r = new CancellationTokenSource();
        using MemoryConsumer leftImmune = left.RegisterConsumer("left-immune", l, MemoryConsumer.NeverKill);
        using MemoryConsumer rightBig = right.RegisterConsumer("right-big", r);
        TestBudgets.ChargeAs(leftImmune, left, 300);
        TestBudgets.ChargeAs(rightBig, right, 500);

        using var cancel = new CancellationTokenSource();
        Task wait = left.ChargeAsync(10, AllocationMode.NoFail, cancellationToken: cancel.Token).AsTask(); // left is short, not root
        Assert.False(rightBig.IsKilled); // outside the short subtree
        Assert.False(wait.IsCompleted); // nothing to kill: it waits
        Assert.Contains(logger.Collector.GetSnapshot(), x => x.Message.Contains("no victim", StringComparison.Ordinal));

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        TestBudgets.UnchargeAs(leftImmune, left, 300);
        TestBudgets.UnchargeAs(rightBig, right, 500);
        TestBudgets.AssertEmpty(root, left, right);
    }

    [Fact]
    public void Newest_first_a_selector_and_panic_choose_as_they_say()
    {
        using var x = new CancellationTokenSource();
        using var y = new CancellationTokenSource();

        using (MemoryBudget newest = Create(new OomOptions { Policy = OomPolicy.NewestFirst }))
        using (MemoryConsumer old = newest.RegisterConsumer("old", x))
        using (MemoryConsumer young = newest.RegisterConsumer("young", y))
        {
            TestBudgets.ChargeAs(old, newest, 500);
            Assert.Equal("young", newest.DryRunOom().Victim?.Name);
            Assert.Contains("newest", newest.DryRunOom().Reason, StringComparison.Ordinal);
            TestBudgets.UnchargeAs(old, newest, 500);
            TestBudgets.AssertEmpty(newest);
        }

        using (MemoryBudget chosen = Create(new OomOptions { Selector = candidates => candidates.Single(c => c.Name == "old") }))
        using (MemoryConsumer old = chosen.RegisterConsumer("old", x))
        using (MemoryConsumer young = chosen.RegisterConsumer("young", y))
        {
            TestBudgets.ChargeAs(young, chosen, 500);
            Assert.Equal("old", chosen.DryRunOom().Victim?.Name);
            TestBudgets.UnchargeAs(young, chosen, 500);
            TestBudgets.AssertEmpty(chosen);
        }

        using (MemoryBudget panicking = Create(new OomOptions { Policy = OomPolicy.Panic }))
        using (MemoryConsumer old = panicking.RegisterConsumer("old", x))
        {
            string? panic = null;
            panicking.Tree.Oom.Panic = message => panic = message;
            TestBudgets.ChargeAs(old, panicking, 900);
            Assert.False(panicking.TryReserve(1, out _)); // a try never runs the killer
            Assert.Throws<MemoryAllocationException>(() => panicking.Charge(10, AllocationMode.RetryMayFail)); // nor does a failing mode
            using var cancel = new CancellationTokenSource();
            Task wait = panicking.ChargeAsync(10, AllocationMode.NoFail, cancellationToken: cancel.Token).AsTask();
            Assert.NotNull(panic);
            Assert.Contains("the policy is to panic", panic, StringComparison.Ordinal);
            Assert.False(old.IsKilled);
            cancel.Cancel();
            TestBudgets.UnchargeAs(old, panicking, 900);
            TestBudgets.AssertEmpty(panicking);
        }
    }

    [Fact]
    public void Bad_consumers_and_options_are_refused()
    {
        using MemoryBudget budget = Create();
        using var cts = new CancellationTokenSource();
        Assert.Equal("oomScoreAdj", Assert.Throws<ArgumentOutOfRangeException>(() => budget.RegisterConsumer("x", cts, 1001)).ParamName);
        Assert.Throws<ArgumentException>(() => budget.RegisterConsumer(" ", cts));
        Assert.Equal("Oom.KillTimeout", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new OomOptions { KillTimeout = TimeSpan.Zero })).ParamName);
        Assert.Equal("Oom.Policy", Assert.Throws<ArgumentOutOfRangeException>(() => Create(new OomOptions { Policy = (OomPolicy)9 })).ParamName);
        MemoryConsumer gone = budget.RegisterConsumer("gone", cts);
        gone.Dispose();
        Assert.Throws<ObjectDisposedException>(() => gone.Enter());
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Charges_reservations_and_uncharges_on_its_flows_are_attributed_and_leftovers_reported()
    {
        var logger = new FakeLogger();
        using MemoryBudget budget = Create(logger: logger);
        using var cts = new CancellationTokenSource();
        MemoryConsumer job = budget.RegisterConsumer("job", cts);
        MemoryReservation reservation;
        using (job.Enter())
        {
            await budget.ChargeAsync(100, AllocationMode.NoFail);
            await Task.Run(() => budget.Charge(50, AllocationMode.NoWait)); // the scope flows into tasks it starts
            reservation = await budget.ReserveAsync(200);
            budget.Uncharge(30);
        }

        budget.Charge(70, AllocationMode.NoWait); // outside the scope: not the job's
        Assert.Equal(120, job.Charged);
        Assert.Equal(200, job.Reserved);
        Assert.Equal(320, budget.DryRunOom().Candidates.Single().Badness);

        job.Dispose();
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Message.Contains("'job'", StringComparison.Ordinal) && r.Message.Contains("120 bytes", StringComparison.Ordinal));
        Assert.Empty(budget.DryRunOom().Candidates);

        reservation.Dispose();
        budget.Uncharge(190);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_charge_refused_only_to_keep_its_place_in_line_waits_without_calling_the_killer()
    {
        int asked = 0;
        using MemoryBudget budget = Create(new OomOptions { Selector = _ => { asked++; return null; } }); // counts, kills nobody
        using var cts = new CancellationTokenSource();
        using MemoryConsumer bystander = budget.RegisterConsumer("bystander", cts);
        TestBudgets.ChargeAs(bystander, budget, 50);
        budget.Charge(600, AllocationMode.NoWait);

        Task large = budget.ChargeAsync(500, AllocationMode.NoFail).AsTask(); // memory is short: the killer is asked
        Assert.Equal(1, asked);
        Task small = budget.ChargeAsync(10, AllocationMode.NoFail).AsTask(); // 660 fits, but it comes after the large one
        Assert.False(small.IsCompleted);
        Assert.Equal(1, asked); // memory is not short for it, the line is: no kill is considered
        Assert.Throws<MemoryAllocationException>(() => budget.Charge(10, AllocationMode.RetryMayFail)); // it may not wait its turn: fails at once

        budget.Uncharge(600);
        await large;
        await small;
        budget.Uncharge(510);
        TestBudgets.UnchargeAs(bystander, budget, 50);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_throwing_report_handler_or_selector_never_fails_a_NoFail_charge()
    {
        using MemoryBudget budget = Create(new OomOptions { Selector = _ => throw new InvalidOperationException("selector bug") });
        using var cts = new CancellationTokenSource();
        using MemoryConsumer job = budget.RegisterConsumer("job", cts);
        TestBudgets.ChargeAs(job, budget, 900);
        using var cancel = new CancellationTokenSource();
        Task wait = budget.ChargeAsync(10, AllocationMode.NoFail, cancellationToken: cancel.Token).AsTask();
        Assert.False(wait.IsFaulted); // the selector threw: nobody is killed, the charge waits
        Assert.False(job.IsKilled);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        TestBudgets.UnchargeAs(job, budget, 900);
        TestBudgets.AssertEmpty(budget);

        using MemoryBudget other = Create();
        other.OutOfMemory += (_, _) => throw new InvalidOperationException("handler bug");
        using var victimCts = new CancellationTokenSource();
        using MemoryConsumer victim = other.RegisterConsumer("victim", victimCts);
        MemoryReservation held;
        using (victim.Enter())
        {
            held = await other.ReserveAsync(600);
        }

        other.Charge(300, AllocationMode.NoWait);
        await other.ChargeAsync(300, AllocationMode.NoFail); // killed and reaped before the handler threw
        await victim.Killing;
        Assert.True(victimCts.IsCancellationRequested);
        Assert.True(held.IsDisposed);
        other.Uncharge(600);
        TestBudgets.AssertEmpty(other);
    }
}
