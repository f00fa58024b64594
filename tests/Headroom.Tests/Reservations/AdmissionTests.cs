namespace Headroom.Tests.Reservations;

/// <summary>Semantics §5: a reservation is admitted when Committed + A ≤ Capacity − Min, and waits FIFO holding nothing.</summary>
public sealed class AdmissionTests
{
    [Fact]
    public void A_reservation_is_admitted_up_to_capacity_less_min_and_counts_as_reserved()
    {
        using MemoryBudget budget = TestBudgets.Small(); // capacity 1000, min 100
        budget.Charge(400, AllocationMode.NoWait);

        Assert.True(budget.TryReserve(500, out MemoryReservation? r));
        Assert.Equal((400, 500, 900), (budget.Used, budget.Reserved, budget.Committed));
        Assert.Equal((500, 0, 500), (r.Amount, r.Drawn, r.Remaining));
        Assert.Equal(ReservationMode.Watermark, r.Mode);
        Assert.Same(budget, r.Budget);

        Assert.False(budget.TryReserve(1, out MemoryReservation? none)); // the min reserve is never eaten
        Assert.Null(none);
        Assert.Equal(500, budget.Reserved);

        r.Dispose();
        budget.Uncharge(400);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_reservation_at_a_child_reserves_at_every_ancestor()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 500));
        MemoryBudget sibling = root.CreateChild(TestBudgets.FlatChild("sibling", 1000));

        Assert.True(child.TryReserve(300, out MemoryReservation? r));
        Assert.Equal((300, 300), (child.Reserved, root.Reserved));
        Assert.True(sibling.TryCharge(700));
        Assert.False(sibling.TryCharge(1)); // the child's reservation is not ordinary free memory

        r.Dispose();
        Assert.True(sibling.TryCharge(300));
        sibling.Uncharge(1000);
        TestBudgets.AssertEmpty(root, child, sibling);
    }

    [Fact]
    public async Task A_reservation_waits_holding_nothing_and_is_woken_by_an_uncharge()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        budget.Charge(900, AllocationMode.NoWait);

        Task<MemoryReservation> pending = budget.ReserveAsync(300).AsTask();
        Assert.False(pending.IsCompleted);
        Assert.Equal(0, budget.Reserved); // holds nothing while it waits

        budget.Uncharge(200);
        MemoryReservation r = await pending;
        Assert.Equal((700, 300), (budget.Used, budget.Reserved));

        await r.DisposeAsync();
        budget.Uncharge(700);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_large_reservation_is_not_starved_by_a_stream_of_small_ones()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(600, out MemoryReservation? first));

        Task<MemoryReservation> large = budget.ReserveAsync(800).AsTask();
        Task<MemoryReservation> small = budget.ReserveAsync(100).AsTask(); // would fit now, but comes after the large one
        Assert.False(small.IsCompleted);
        Assert.False(budget.TryReserve(100, out _));

        first.Dispose(); // returns 600: the large one fits, and the small one behind it too
        MemoryReservation l = await large;
        MemoryReservation s = await small;
        Assert.Equal(900, budget.Reserved);

        l.Dispose();
        s.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_cancelled_reservation_request_leaves_nothing_behind()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        budget.Charge(1000, AllocationMode.NoWait);
        using var cts = new CancellationTokenSource();

        Task<MemoryReservation> pending = budget.ReserveAsync(500, cancellationToken: cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        Assert.Equal(0, budget.Queue.Count);

        budget.Uncharge(1000);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Waiting_for_a_second_reservation_while_holding_one_is_refused_unless_asked_for()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 1000));
        using MemoryBudget other = TestBudgets.Flat(1000, "other");
        MemoryReservation held = await root.ReserveAsync(100);

        using (held.Enter())
        {
            var e = Assert.Throws<InvalidOperationException>(() => { _ = child.ReserveAsync(100).AsTask(); });
            Assert.Contains("hold-and-wait", e.Message, StringComparison.Ordinal);
            Assert.Contains("allowWhileHolding", e.Message, StringComparison.Ordinal);
            Assert.Equal(100, root.Reserved); // refused: nothing changed

            Assert.True(child.TryReserve(100, out MemoryReservation? tried)); // a try never waits: allowed
            tried.Dispose();
            using MemoryReservation opted = await child.ReserveAsync(100, allowWhileHolding: true);
            using MemoryReservation elsewhere = await other.ReserveAsync(100); // another tree: no cycle possible
        }

        using (MemoryReservation after = await child.ReserveAsync(100)) // the scope is closed
        {
            Assert.Equal(200, root.Reserved);
        }

        held.Dispose();
        TestBudgets.AssertEmpty(root, child, other);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(901L)] // capacity 1000 less min 100
    public async Task A_reservation_of_a_bad_size_is_refused_by_name(long bytes)
    {
        using MemoryBudget budget = TestBudgets.Small();
        Assert.Equal("bytes", Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryReserve(bytes, out _)).ParamName);
        Assert.Equal("bytes", Assert.Throws<ArgumentOutOfRangeException>(() => { _ = budget.ReserveAsync(bytes).AsTask(); }).ParamName);
        await Task.CompletedTask;
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_reservation_larger_than_an_ancestor_admits_is_refused_naming_the_ancestor()
    {
        using MemoryBudget root = TestBudgets.Small("root"); // admits at most 900
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 1000));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => child.TryReserve(950, out _));
        Assert.Contains("'root'", e.Message, StringComparison.Ordinal);
        Assert.Contains("950", e.Message, StringComparison.Ordinal);
        Assert.Equal("mode", Assert.Throws<ArgumentOutOfRangeException>(() => root.TryReserve(10, out _, (ReservationMode)9)).ParamName);
        TestBudgets.AssertEmpty(root, child);
    }

    [Fact]
    public void A_disposed_budget_admits_nothing()
    {
        var budget = TestBudgets.Flat(1000);
        budget.Dispose();
        Assert.Throws<ObjectDisposedException>(() => budget.TryReserve(10, out _));
        Assert.Throws<ObjectDisposedException>(() => { _ = budget.ReserveAsync(10).AsTask(); });
        TestBudgets.AssertEmpty(budget);
    }
}
