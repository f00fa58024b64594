namespace Headroom.Tests.Reservations;

/// <summary>Semantics §5: how charges use a reservation, explicitly and ambiently, in both modes; guarantee G1.</summary>
public sealed class DrawTests
{
    [Fact]
    public void Watermark_mode_takes_ordinary_memory_first_and_draws_only_when_that_would_fail()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(300, out MemoryReservation? r));

        r.Charge(500); // ordinary memory is there: the reservation is untouched
        Assert.Equal((0, 300), (r.Drawn, r.Remaining));
        Assert.Equal((500, 300), (budget.Used, budget.Reserved));

        budget.Charge(200, AllocationMode.NoWait); // the budget is now full for everyone else
        Assert.True(r.TryCharge(120)); // ordinary memory would fail: drawn
        Assert.Equal((120, 180), (r.Drawn, r.Remaining));
        Assert.Equal((820, 180, 1000), (budget.Used, budget.Reserved, budget.Committed));

        budget.Uncharge(820); // freed bytes return to ordinary memory, not to the reservation
        Assert.Equal(180, r.Remaining);
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Tokens_mode_draws_first_then_takes_ordinary_memory()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(300, out MemoryReservation? r, ReservationMode.Tokens));

        r.Charge(200);
        Assert.Equal((200, 100), (r.Drawn, r.Remaining));
        r.Charge(250); // 100 from the reservation, the excess of 150 ordinary
        Assert.Equal((300, 0), (r.Drawn, r.Remaining));
        Assert.Equal((450, 0), (budget.Used, budget.Reserved));

        budget.Uncharge(450);
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void An_excess_that_is_refused_changes_nothing_not_even_the_reservation()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(100, out MemoryReservation? r, ReservationMode.Tokens));
        budget.Charge(900, AllocationMode.NoWait);

        Assert.False(r.TryCharge(150)); // 100 from the reservation, but 50 of ordinary memory is not there
        var e = Assert.Throws<MemoryAllocationException>(() => r.Charge(150, AllocationMode.MayFail));
        Assert.Equal(150, e.Bytes);
        Assert.Equal((0, 100), (r.Drawn, r.Remaining));
        Assert.Equal((900, 100), (budget.Used, budget.Reserved));

        budget.Uncharge(900);
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_NoFail_excess_waits_and_a_cancelled_one_gives_back_what_it_drew()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(100, out MemoryReservation? r));
        budget.Charge(900, AllocationMode.NoWait);
        using var cts = new CancellationTokenSource();

        Task cancelled = r.ChargeAsync(150, cancellationToken: cts.Token).AsTask();
        Assert.Equal(0, r.Remaining); // claimed while the excess waits
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal((0, 100), (r.Drawn, r.Remaining));
        Assert.Equal((900, 100), (budget.Used, budget.Reserved));

        Task granted = r.ChargeAsync(150).AsTask();
        budget.Uncharge(50);
        await granted;
        Assert.Equal((100, 0), (r.Drawn, r.Remaining));
        Assert.Equal((1000, 0), (budget.Used, budget.Reserved));

        budget.Uncharge(1000);
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_scope_carried_into_work_on_another_thread_ends_with_that_work()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(300, out MemoryReservation? r, ReservationMode.Tokens));
        ExecutionContext withScope;
        using (r.Enter())
        {
            withScope = ExecutionContext.Capture()!;
        }

        // One thread runs work of the scope's flow, then its own: the way a pool thread runs one flow's continuation
        // and then another's. Only the first may draw.
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                ExecutionContext.Run(withScope, _ => budget.Charge(100, AllocationMode.NoWait), null);
                budget.Charge(50, AllocationMode.NoWait);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();

        Assert.Null(failure);
        Assert.Equal((100, 200), (r.Drawn, r.Remaining));
        Assert.Equal((150, 200), (budget.Used, budget.Reserved));
        budget.Uncharge(150);
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task An_ambient_scope_flows_through_await_and_covers_descendants()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 1000));
        using MemoryBudget foreign = TestBudgets.Flat(1000, "foreign");
        MemoryReservation r = await root.ReserveAsync(400, ReservationMode.Tokens);

        using (r.Enter())
        {
            await Task.Yield();
            await child.ChargeAsync(100, AllocationMode.NoWait); // a descendant: drawn
            Assert.True(root.TryCharge(50)); // the reservation's own budget: drawn
            foreign.Charge(70, AllocationMode.NoWait); // another tree: not covered
            await Task.Run(() => child.Charge(30, AllocationMode.NoWait)); // flows into child tasks too
        }

        root.Charge(10, AllocationMode.NoWait); // the scope is closed: ordinary
        Assert.Equal((180, 220), (r.Drawn, r.Remaining));
        Assert.Equal((130, 190, 220), (child.Used, root.Used, root.Reserved));
        Assert.Equal(70, foreign.Used);

        child.Uncharge(130);
        root.Uncharge(60);
        foreign.Uncharge(70);
        r.Dispose();
        TestBudgets.AssertEmpty(root, child, foreign);
    }

    [Fact]
    public void Nested_scopes_restore_exactly_what_they_changed()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(100, out MemoryReservation? outer, ReservationMode.Tokens));
        Assert.True(budget.TryReserve(100, out MemoryReservation? inner, ReservationMode.Tokens));

        using (outer.Enter())
        {
            using (inner.Enter())
            {
                budget.Charge(10, AllocationMode.NoWait);
            }

            budget.Charge(20, AllocationMode.NoWait);
            AllocationScope again = inner.Enter();
            again.Dispose();
            again.Dispose(); // harmless, and restores nothing twice
            budget.Charge(5, AllocationMode.NoWait);
        }

        budget.Charge(40, AllocationMode.NoWait);
        Assert.Equal((10, 25), (inner.Drawn, outer.Drawn));
        Assert.Equal((75, 165), (budget.Used, budget.Reserved));

        budget.Uncharge(75);
        outer.Dispose();
        inner.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_descendants_own_capacity_still_applies_inside_a_reservation()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 100));
        Assert.True(root.TryReserve(500, out MemoryReservation? r, ReservationMode.Tokens));

        using (r.Enter())
        {
            Assert.True(child.TryCharge(100));
            Assert.False(child.TryCharge(1)); // the child is full, whatever the reservation above it holds
        }

        Assert.Equal((100, 400), (r.Drawn, r.Remaining));
        child.Uncharge(100);
        r.Dispose();
        TestBudgets.AssertEmpty(root, child);
    }

    [Fact]
    public void An_excess_refused_after_the_reservation_was_disposed_gives_its_take_to_the_budget_and_is_not_counted_drawn()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(100, out MemoryReservation? r, ReservationMode.Tokens));
        budget.Charge(900, AllocationMode.NoWait);

        // The excess's one reclaim pass (MayFail) runs while the charge holds the 100 it took: the reclaimer disposes
        // the reservation then, with nothing left in it, and frees nothing, so the excess is refused afterwards.
        var disposer = new DisposingReclaimer(r);
        using (budget.RegisterReclaimer(disposer, new ReclaimerOptions { Domain = "disposer", Timeout = Timeout.InfiniteTimeSpan }))
        {
            Assert.Throws<MemoryAllocationException>(() => r.Charge(150, AllocationMode.MayFail));
        }

        Assert.True(disposer.Calls > 0, "The excess ran no reclaim.");
        Assert.True(r.IsDisposed);
        Assert.Equal((100, 0, 0), (r.Amount, r.Drawn, r.Remaining));
        Assert.Equal((900, 0, 900), (budget.Used, budget.Reserved, budget.Committed));

        budget.Uncharge(900);
        TestBudgets.AssertEmpty(budget);
        Assert.Equal(0, budget.Committed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void A_reservation_of_the_largest_size_closes_like_any_other(long draw)
    {
        using MemoryBudget budget = TestBudgets.Flat(long.MaxValue);
        Assert.True(budget.TryReserve(long.MaxValue, out MemoryReservation? r, ReservationMode.Tokens));
        if (draw > 0)
        {
            Assert.True(r.TryCharge(draw));
        }

        r.Dispose();
        Assert.True(r.IsDisposed);
        Assert.Equal((long.MaxValue, draw, 0), (r.Amount, r.Drawn, r.Remaining));
        Assert.Throws<ObjectDisposedException>(() => r.TryCharge(1));
        Assert.Equal((draw, 0), (budget.Used, budget.Reserved));

        if (draw > 0)
        {
            budget.Uncharge(draw);
        }

        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Dispose_returns_exactly_the_remainder_and_a_disposed_reservation_refuses_use()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(300, out MemoryReservation? r, ReservationMode.Tokens));
        r.Charge(120);

        r.Dispose();
        Assert.Equal((120, 0, 300), (r.Drawn, r.Remaining, r.Amount));
        Assert.Equal((120, 0), (budget.Used, budget.Reserved));
        r.Dispose();
        Assert.Equal((120, 0), (budget.Used, budget.Reserved));

        Assert.Throws<ObjectDisposedException>(() => r.TryCharge(1));
        Assert.Throws<ObjectDisposedException>(() => r.Charge(1));
        Assert.Throws<ObjectDisposedException>(() => r.Enter());
        Assert.Throws<ObjectDisposedException>(() => r.Shrink(1));
        Assert.Throws<ObjectDisposedException>(() => r.TryGrow(1));

        budget.Uncharge(120);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Shrink_returns_part_early_and_growing_is_a_new_admission()
    {
        using MemoryBudget budget = TestBudgets.Small(); // admits at most 900
        Assert.True(budget.TryReserve(600, out MemoryReservation? r));

        r.Shrink(100);
        Assert.Equal((500, 500), (r.Amount, r.Remaining));
        Assert.Equal(500, budget.Reserved);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => r.Shrink(501));
        Assert.Contains("only 500 bytes remain", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Shrink(0));

        Assert.True(r.TryGrow(400));
        Assert.False(r.TryGrow(1)); // 900 reserved: the min reserve is never eaten
        Assert.Equal((900, 900), (r.Amount, budget.Reserved));

        r.Shrink(300);
        budget.Charge(300, AllocationMode.NoWait, AllocationPriority.High); // 900 committed: no room to admit more
        Task grow = r.GrowAsync(200).AsTask();
        Assert.False(grow.IsCompleted);
        budget.Uncharge(200);
        await grow;
        Assert.Equal((800, 800), (r.Amount, budget.Reserved));

        budget.Uncharge(100);
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_growth_granted_after_its_reservation_was_disposed_fails_and_gives_the_bytes_straight_back_to_the_next_in_line()
    {
        using MemoryBudget budget = TestBudgets.Small(); // capacity 1000, min 100: admits at most 900
        Assert.True(budget.TryReserve(600, out MemoryReservation? r));
        budget.Charge(300, AllocationMode.NoWait, AllocationPriority.High); // 900 committed
        Task grow = r.GrowAsync(200).AsTask();
        Task follower = budget.ChargeAsync(550, AllocationMode.NoFail).AsTask(); // fits only if the growth keeps nothing
        Assert.False(grow.IsCompleted || follower.IsCompleted);

        r.Dispose(); // frees 600: the growth is granted first, finds its reservation disposed, and returns its 200
        Assert.True(grow.IsFaulted && follower.IsCompletedSuccessfully); // both decided within the release
        await Assert.ThrowsAsync<ObjectDisposedException>(() => grow); // a growth of nothing is not reported as a success
        await follower;
        Assert.Equal((850, 0, 850), (budget.Used, budget.Reserved, budget.Committed));
        Assert.Equal((0, 600), (r.Remaining, r.Amount));

        budget.Uncharge(850);
        TestBudgets.AssertEmpty(budget);
    }

    /// <summary>A reclaimer that disposes a reservation when asked and frees nothing.</summary>
    private sealed class DisposingReclaimer(MemoryReservation reservation) : IMemoryReclaimer
    {
        internal int Calls { get; private set; }

        public long GetReclaimableBytes() => 1 << 20;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
        {
            Calls++;
            reservation.Dispose();
            return new ReclaimResult(0);
        }
    }
}
