using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Headroom.Tests.Reservations;

/// <summary>
/// Semantics §1: Reserved is the bytes promised to live reservations and not yet drawn, read from the reservations
/// themselves, whichever threads admitted, drew from and disposed of them; Used is Committed less Reserved.
/// </summary>
public sealed class ReservedTests
{
    [Fact]
    public void Reservations_admitted_on_other_threads_count_until_disposed_wherever_they_are_disposed()
    {
        using MemoryBudget budget = TestBudgets.Flat(10_000);
        var held = new MemoryReservation?[4];
        Thread[] threads = [.. Enumerable.Range(0, held.Length).Select(i => new Thread(() =>
        {
            Assert.True(budget.TryReserve(100 * (i + 1), out held[i], ReservationMode.Tokens));
            held[i]!.Charge(10); // drawn: moves 10 from Reserved to Used
        }))];
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join(); // the admitting threads have ended: their lists must still count
        }

        Assert.Equal((40, 1000 - 40, 1000), (budget.Used, budget.Reserved, budget.Committed));

        held[1]!.Dispose(); // on this thread, not the one that admitted it
        Assert.Equal((40, 1000 - 40 - 190), (budget.Used, budget.Reserved));

        // Another thread starts a list, which prunes the ended threads' lists but must keep their live reservations.
        var starter = new Thread(() =>
        {
            Assert.True(budget.TryReserve(50, out MemoryReservation? r));
            r.Dispose();
        });
        starter.Start();
        starter.Join();
        Assert.Equal((40, 770), (budget.Used, budget.Reserved));

        foreach (MemoryReservation? r in held)
        {
            r!.Dispose();
        }

        budget.Uncharge(40);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_reservation_kept_while_many_others_come_and_go_stays_counted_and_usable()
    {
        using MemoryBudget budget = TestBudgets.Flat(10_000);
        Assert.True(budget.TryReserve(300, out MemoryReservation? kept, ReservationMode.Tokens));
        var others = new List<MemoryReservation>();
        for (int i = 0; i < 500; i++)
        {
            Assert.True(budget.TryReserve(7, out MemoryReservation? r));
            if (i % 3 == 0)
            {
                others.Add(r); // kept for a while: live nodes deep in the list, among disposed ones
            }
            else
            {
                r.Dispose();
            }

            if (others.Count == 20)
            {
                others.ForEach(o => o.Dispose());
                others.Clear();
            }
        }

        Assert.Equal(300 + (7 * others.Count), budget.Reserved);
        kept.Charge(300);
        Assert.Equal((300, 7 * others.Count), (budget.Used, budget.Reserved));

        others.ForEach(o => o.Dispose());
        kept.Dispose();
        budget.Uncharge(300);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Trees_do_not_count_each_others_reservations()
    {
        using MemoryBudget first = TestBudgets.Flat(1000, "first");
        using MemoryBudget second = TestBudgets.Flat(1000, "second");
        MemoryBudget child = first.CreateChild(TestBudgets.FlatChild("child", 500));
        Assert.True(child.TryReserve(200, out MemoryReservation? r));

        Assert.Equal((200, 200, 0), (child.Reserved, first.Reserved, second.Reserved));
        Assert.Equal((0, 0), (first.Used, second.Used));

        r.Dispose();
        TestBudgets.AssertEmpty(first, child, second);
    }

    [Fact]
    public void A_thread_that_reserved_in_a_tree_that_ended_does_not_keep_it_alive()
    {
        WeakReference ended = ReserveInATreeThenEndIt();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(ended.IsAlive, "The ended tree is still reachable, held by this thread's list of live reservations.");
    }

    [Fact]
    public void An_uncharge_above_used_is_refused_with_the_figure_while_a_reservation_is_live()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        budget.Charge(30, AllocationMode.NoWait);
        Assert.True(budget.TryReserve(50, out MemoryReservation? r));

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => budget.Uncharge(31)); // within Committed (80), above Used
        Assert.Contains("31", e.Message, StringComparison.Ordinal);
        Assert.Contains("only 30 bytes are charged", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => budget.Uncharge(81));
        Assert.Equal((30, 50, 50), (budget.Used, budget.Reserved, r.Remaining)); // nothing changed

        r.Dispose();
        budget.Uncharge(30);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void An_uncharge_that_would_take_reserved_bytes_is_refused_so_capacity_holds()
    {
        var logger = new FakeLogger();
        MemoryBudgetOptions options = TestBudgets.Flat("misused", 1000);
        options.Logger = logger;
        using var budget = new MemoryBudget(options);
        budget.Charge(30, AllocationMode.NoWait);
        Assert.True(budget.TryReserve(50, out MemoryReservation? r));

        Assert.Throws<ArgumentOutOfRangeException>(() => budget.Uncharge(60)); // a caller bug: 30 more than is charged
        r.Dispose();
        budget.Uncharge(30);

        Assert.Equal((0, 0, 0), (budget.Used, budget.Reserved, budget.Committed));
        Assert.DoesNotContain(logger.Collector.GetSnapshot(), l => l.Id.Name == "CommittedBelowZero");
        Assert.True(budget.TryCharge(1000));
        Assert.False(budget.TryCharge(1)); // capacity holds: the misuse did not leave room past it
        budget.Uncharge(1000);
        TestBudgets.AssertEmpty(budget);
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // so that no local of the caller keeps the tree alive
    private static WeakReference ReserveInATreeThenEndIt()
    {
        var root = TestBudgets.Flat(1000, "ended");
        Assert.True(root.TryReserve(100, out MemoryReservation? r));
        r.Dispose();
        TestBudgets.AssertEmpty(root);
        root.Dispose();
        return new WeakReference(root);
    }
}
