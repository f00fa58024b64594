using Microsoft.Coyote.Specifications;
using Xunit.Abstractions;
using static Headroom.Coyote.Tests.Concurrency.CoyoteHarness;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// Systematic concurrency tests of one budget's wait queue (semantics §1-§3): NoFail chargers and uncharges, FIFO,
/// cancellation racing with a grant. Coyote explores the interleavings; every body ends by awaiting its actors.
/// </summary>
[Collection(CoyoteTests.Name)]
public sealed class WaitQueueConcurrencyTests(ITestOutputHelper output)
{
    // ---------------------------------------------------------------------------------------------------------------
    // 1. NoFail chargers and uncharges
    // ---------------------------------------------------------------------------------------------------------------

    [Fact]
    public void NoFail_chargers_and_uncharges_on_a_small_budget_never_deadlock_lose_a_wake_up_or_break_I1()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 3);
            long held = 0; // bytes whose charge completed and that are not yet being uncharged: all granted at once

            Task Charger(string name, long size, int rounds) => Task.Run(async () =>
            {
                for (int round = 0; round < rounds; round++)
                {
                    Note($"{name} charges {size}");
                    await budget.ChargeAsync(size, AllocationMode.NoFail);
                    long now = Interlocked.Add(ref held, size);
                    Note($"{name} granted {size} (holders hold {now}) [{State(budget)}]");
                    CheckI1(budget);
                    Specification.Assert(now <= budget.Capacity, "Over-granted: holders hold {0} bytes of a capacity of {1}.", now, budget.Capacity);
                    Specification.Assert(budget.Used >= size, "A holder of {0} bytes sees Used = {1}.", size, budget.Used);
                    await Pause();
                    Interlocked.Add(ref held, -size);
                    budget.Uncharge(size);
                    Note($"{name} uncharged {size} [{State(budget)}]");
                    CheckI1(budget);
                }
            });

            Task[] actors = [Charger("a", 1, 2), Charger("b", 2, 2), Charger("c", 1, 2), Charger("d", 2, 1), Charger("e", 3, 1)];
            await All(actors);
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// The same with nonzero watermarks (capacity 8, min 4, low 5, high 6): normal NoFail callers stop at the min watermark
    /// (at most 4 committed), High-priority NoFail at half of it (at most 6), High-priority NoWait at 3/8 of it (at most 7).
    /// </summary>
    [Fact]
    public void With_watermarks_concurrent_callers_stay_above_their_floors_and_nobody_is_stranded()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 8, min: 4, low: 5, high: 6);
            // Bytes held, by kind of caller, packed into one counter so that one read sees all three at the same instant:
            // normal NoFail in bits 0-15, High NoFail in bits 16-31, High NoWait ("atomic") in bits 32-47.
            const int Normal = 0, High = 16, NoWait = 32;
            long held = 0;

            long Hold(int kind, long bytes) => Interlocked.Add(ref held, bytes << kind);

            void CheckFloors(long now)
            {
                CheckI1(budget);
                long n = (now >> Normal) & 0xFFFF, h = (now >> High) & 0xFFFF, a = (now >> NoWait) & 0xFFFF;
                Specification.Assert(budget.Used <= 7, "Committed {0} dug into the last 3/8 of the min reserve.", budget.Used);
                Specification.Assert(n <= 4, "Normal callers hold {0} bytes: more than capacity - min = 4.", n);
                Specification.Assert(n + h <= 6, "Normal and High NoFail callers hold {0} bytes: more than capacity - min/2 = 6.", n + h);
                Specification.Assert(n + h + a <= 7, "Callers hold {0} bytes: more than capacity - min*3/8 = 7.", n + h + a);
            }

            Task NoFail(string name, long size, AllocationPriority priority, int rounds) => Task.Run(async () =>
            {
                int kind = priority == AllocationPriority.High ? High : Normal;
                for (int round = 0; round < rounds; round++)
                {
                    await budget.ChargeAsync(size, AllocationMode.NoFail, priority);
                    long now = Hold(kind, size);
                    Note($"{name} granted {size} [{State(budget)}]");
                    CheckFloors(now);
                    await Pause();
                    Hold(kind, -size);
                    budget.Uncharge(size);
                    Note($"{name} uncharged {size} [{State(budget)}]");
                }
            });

            Task Atomic(string name, long size, int tries) => Task.Run(async () =>
            {
                for (int i = 0; i < tries; i++)
                {
                    if (budget.TryCharge(size, AllocationMode.NoWait, AllocationPriority.High))
                    {
                        long now = Hold(NoWait, size);
                        Note($"{name} took {size} [{State(budget)}]");
                        CheckFloors(now);
                        await Pause();
                        Hold(NoWait, -size);
                        budget.Uncharge(size);
                    }

                    await Pause();
                }
            });

            Task[] actors =
            [
                NoFail("n1", 2, AllocationPriority.Normal, 2),
                NoFail("n2", 3, AllocationPriority.Normal, 1),
                NoFail("h1", 3, AllocationPriority.High, 2),
                Atomic("x1", 2, 3),
            ];
            await All(actors);
            CheckDrained(budget);
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 2. FIFO
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// A (3 bytes) queues first, then B (1) and C (2), on a full budget of 4. Uncharges come one byte at a time, so B
    /// would fit long before A: it must still wait for A. A TryCharge(NoWait) arrival may not take a byte while anyone
    /// is queued (the probe holds the tree's lock so that the queue cannot change under it; the charge itself is the
    /// ordinary lock-free path).
    /// </summary>
    [Fact]
    public void A_large_waiter_queued_first_is_granted_before_smaller_ones_and_no_NoWait_arrival_overtakes_it()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 4);
            Specification.Assert(budget.TryCharge(4), "Could not fill the budget.");
            Task a = budget.ChargeAsync(3, AllocationMode.NoFail, site: "A").AsTask();
            Specification.Assert(!a.IsCompleted && budget.QueueCount() == 1, "A is not queued.");
            Task b = budget.ChargeAsync(1, AllocationMode.NoFail, site: "B").AsTask();
            Specification.Assert(!b.IsCompleted && budget.QueueCount() == 2, "B is not queued.");
            Task c = budget.ChargeAsync(2, AllocationMode.NoFail, site: "C").AsTask();
            Specification.Assert(!c.IsCompleted && budget.QueueCount() == 3, "C is not queued.");

            Task releaser = Task.Run(async () =>
            {
                for (int i = 0; i < 4; i++)
                {
                    budget.Uncharge(1);
                    Note($"released 1 [{State(budget)}]");
                    CheckI1(budget);
                    await Pause();
                }
            });

            Task Holder(string name, Task granted, long size, Task? before) => Task.Run(async () =>
            {
                await granted;
                Note($"{name} granted {size} [{State(budget)}]");
                CheckI1(budget);
                Specification.Assert(before is null || before.IsCompletedSuccessfully, "{0} was granted while an older waiter still waited.", name);
                await Pause();
                budget.Uncharge(size);
                Note($"{name} uncharged {size} [{State(budget)}]");
            });

            Task prober = Task.Run(async () =>
            {
                long took = 0;
                for (int i = 0; i < 6; i++)
                {
                    lock (budget.TreeLock())
                    {
                        int queued = budget.QueueCount();
                        bool ok = budget.TryCharge(1, AllocationMode.NoWait);
                        Note($"probe with {queued} queued: {(ok ? "took 1" : "refused")}");
                        Specification.Assert(!ok || queued == 0, "A NoWait arrival overtook {0} queued waiter(s).", queued);
                        took += ok ? 1 : 0;
                    }

                    await Pause();
                }

                if (took > 0)
                {
                    budget.Uncharge(took);
                }
            });

            await All(releaser, prober, Holder("A", a, 3, null), Holder("B", b, 1, a), Holder("C", c, 2, b));
            CheckDrained(budget);
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 3. Cancellation racing with a grant
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// A (2 bytes, cancellable) heads the queue of a full budget of 2, B and C (1 byte each) queue behind it. One actor
    /// cancels A while another uncharges the 2 bytes that would grant it. Either outcome is fine; afterwards A holds
    /// exactly its 2 bytes or nothing, nobody is left queued, and B and C are granted.
    /// </summary>
    [Fact]
    public void Cancelling_a_waiter_while_an_uncharge_grants_it_leaves_exact_accounting_and_strands_nobody()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 2);
            Specification.Assert(budget.TryCharge(2), "Could not fill the budget.");
            using var cts = new CancellationTokenSource();
            Task a = budget.ChargeAsync(2, AllocationMode.NoFail, site: "A", cancellationToken: cts.Token).AsTask();
            Task b = budget.ChargeAsync(1, AllocationMode.NoFail, site: "B").AsTask();
            Task c = budget.ChargeAsync(1, AllocationMode.NoFail, site: "C").AsTask();
            Specification.Assert(budget.QueueCount() == 3, "A, B and C are not queued.");

            Task canceller = Task.Run(() =>
            {
                Note("cancelling A");
                cts.Cancel();
                Note($"cancelled A: A {a.Status} [{State(budget)}]");
                CheckI1(budget);
            });
            Task releaser = Task.Run(async () =>
            {
                budget.Uncharge(1);
                Note($"released 1 [{State(budget)}]");
                await Pause();
                budget.Uncharge(1);
                Note($"released 1 [{State(budget)}]");
                CheckI1(budget);
            });
            await All(canceller, releaser);

            bool granted;
            try
            {
                await a;
                granted = true;
            }
            catch (OperationCanceledException)
            {
                granted = false;
            }

            Note($"A {(granted ? "granted" : "cancelled")} [{State(budget)}]");
            if (granted)
            {
                // A holds the whole budget: B and C still wait, and nothing else is charged.
                Specification.Assert(budget.Used == 2 && budget.QueueCount() == 2, "After A's grant: {0}, {1} queued.", budget.GetSnapshot(), budget.QueueCount());
                budget.Uncharge(2);
            }
            else
            {
                Specification.Assert(a.IsCanceled, "A neither granted nor cancelled: {0}.", a.Status);
            }

            await All(b, c); // a waiter stranded behind the cancelled or granted A deadlocks here
            Specification.Assert(budget.Used == 2 && budget.QueueCount() == 0, "After B and C: {0}, {1} queued.", budget.GetSnapshot(), budget.QueueCount());
            budget.Uncharge(1);
            budget.Uncharge(1);
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// The cancellation races with the charge itself (it may land before the charge queues, between queuing and the
    /// registration of the callback, or after), and with an uncharge that grants it. A cancelled charge leaves no trace.
    /// </summary>
    [Fact]
    public void Cancelling_while_the_charge_is_still_queuing_leaves_no_trace()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 2);
            Specification.Assert(budget.TryCharge(2), "Could not fill the budget.");
            using var cts = new CancellationTokenSource();

            Task<bool> charger = Task.Run(async () =>
            {
                try
                {
                    await budget.ChargeAsync(2, AllocationMode.NoFail, site: "A", cancellationToken: cts.Token);
                    Note($"A granted [{State(budget)}]");
                    return true;
                }
                catch (OperationCanceledException)
                {
                    Note($"A cancelled [{State(budget)}]");
                    return false;
                }
            });
            Task follower = Task.Run(async () =>
            {
                await budget.ChargeAsync(1, AllocationMode.NoFail, site: "B");
                Note($"B granted [{State(budget)}]");
                CheckI1(budget);
            });
            Task canceller = Task.Run(() => cts.Cancel());
            Task releaser = Task.Run(() =>
            {
                budget.Uncharge(2);
                Note($"released 2 [{State(budget)}]");
            });

            bool granted = await charger;
            await All(canceller, releaser);
            if (granted)
            {
                budget.Uncharge(2);
            }

            await follower;
            Specification.Assert(budget.Used == 1 && budget.QueueCount() == 0, "After B: {0}, {1} queued.", budget.GetSnapshot(), budget.QueueCount());
            budget.Uncharge(1);
            CheckDrained(budget);
        });
    }
}
