namespace Headroom.Tests.Reservations;

/// <summary>
/// Semantics §5, §7 and §2 for reservations, each checked against the test's own figures: a refused excess gives back
/// what it drew at every level below the reservation too; a fully drawn reservation can still grow; charges through a
/// reservation are attributed to the flow's consumer; and a refused admission wakes background reclaim. Mutation
/// testing found each of these unchecked.
/// </summary>
public sealed class ReservationLedgerTests
{
    [Fact]
    public void A_refused_excess_at_a_child_gives_back_what_it_drew_at_the_child_too()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 500));
        Assert.True(root.TryReserve(100, out MemoryReservation? r, ReservationMode.Tokens));
        root.Charge(900, AllocationMode.NoWait); // the root is full for ordinary charges

        using (r.Enter())
        {
            Assert.False(child.TryCharge(150)); // 100 drawn (charged at the child), the excess of 50 refused at the root
        }

        Assert.Equal((0, 100), (r.Drawn, r.Remaining));
        Assert.Equal((0L, 0L), (child.Used, child.Committed));
        Assert.Equal((900, 100, 1000), (root.Used, root.Reserved, root.Committed));

        root.Uncharge(900);
        r.Dispose();
        TestBudgets.AssertEmpty(root, child);
    }

    [Fact]
    public void A_fully_drawn_reservation_grows_like_any_other()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(100, out MemoryReservation? r, ReservationMode.Tokens));
        r.Charge(100);
        Assert.Equal(0, r.Remaining);

        Assert.True(r.TryGrow(50));
        Assert.Equal((150, 100, 50), (r.Amount, r.Drawn, r.Remaining));
        Assert.Equal((100, 50, 150), (budget.Used, budget.Reserved, budget.Committed));

        budget.Uncharge(100);
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Charges_through_a_reservation_are_attributed_to_the_flows_consumer()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        using var cancellation = new CancellationTokenSource();
        using MemoryConsumer consumer = budget.RegisterConsumer("worker", cancellation);
        Assert.True(budget.TryReserve(300, out MemoryReservation? r, ReservationMode.Tokens));

        using (consumer.Enter())
        {
            Assert.True(r.TryCharge(50));
            r.Charge(60);
            await r.ChargeAsync(70);
            Assert.Equal(180, consumer.Charged);
            budget.Uncharge(180);
        }

        Assert.Equal(0, consumer.Charged);
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_refused_admission_wakes_background_reclaim_at_the_level_that_refused()
    {
        using MemoryBudget budget = TestBudgets.Small(); // capacity 1000, min 100: admits up to 900
        var reclaim = new FakeReclaim(budget, cached: 0);
        budget.Charge(850, AllocationMode.MayFail);
        reclaim.BackgroundWakes.Clear();

        Assert.False(budget.TryReserve(60, out _)); // 910 > 900
        Assert.Equal([budget], reclaim.BackgroundWakes);
        Assert.Equal((850, 0), (budget.Used, budget.Reserved));

        budget.Uncharge(850);
        TestBudgets.AssertEmpty(budget);
    }
}
