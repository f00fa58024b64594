using System.Diagnostics;

namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §10: an uncharge above Used is refused with nothing changed. While a reservation is live the check reads
/// Used by walking the reservations, and re-reads a bounded number of times before it refuses (a racing admission can
/// make one reading low). Mutation testing found the bound unchecked: an unbounded re-reading still refused, after a
/// stall of seconds. A refusal is a caller's bug reported at once, not a stall.
/// </summary>
public sealed class RefusedUnchargeTests
{
    [Fact]
    public void An_uncharge_above_used_while_a_reservation_is_live_is_refused_at_once_and_changes_nothing()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        budget.Charge(30, AllocationMode.NoWait);
        Assert.True(budget.TryReserve(50, out MemoryReservation? r));

        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 3; i++)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => budget.Uncharge(31)); // within Committed (80), above Used (30)
        }

        clock.Stop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"three refusals took {clock.Elapsed}");
        Assert.Equal((30, 50, 80), (budget.Used, budget.Reserved, budget.Committed));

        budget.Uncharge(30); // exactly Used: allowed
        r.Dispose();
        TestBudgets.AssertEmpty(budget);
    }
}
