using Microsoft.Coyote.Specifications;
using Xunit.Abstractions;
using static Headroom.Coyote.Tests.Concurrency.CoyoteHarness;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// Systematic concurrency tests of reservations (semantics §5, §8): admission waits in FIFO order with the other waiters,
/// draws inside a reservation never block (guarantee G1), shrink and dispose return exactly what is left and wake the
/// waiters that now fit, and a cancelled admission leaves nothing behind.
/// </summary>
[Collection(CoyoteTests.Name)]
public sealed class ReservationConcurrencyTests(ITestOutputHelper output)
{
    // ---------------------------------------------------------------------------------------------------------------
    // 1. Reserve, draw (explicit and ambient), shrink and dispose next to NoFail chargers and uncharges
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Capacity 4, no watermarks. r1 reserves 3 (Watermark mode), draws 1 explicitly and 1 ambiently, shrinks by 1 and
    /// disposes; r2 reserves 2 (Token mode), draws 1 ambiently and 1 explicitly and disposes; c1 and c2 charge NoFail and
    /// uncharge. Nobody waits while holding, so every actor must finish. Each holder is the only actor drawing from its
    /// reservation, so G1 is asserted on every draw: n ≤ Remaining before it, so it completed synchronously.
    /// </summary>
    [Fact]
    public void Reservations_drawn_shrunk_and_disposed_next_to_NoFail_chargers_never_deadlock_lose_a_wake_up_or_break_G1()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 4);

            Task Watermark() => Task.Run(async () =>
            {
                Note($"r1 reserves 3 [{State(budget)}]");
                MemoryReservation r = await budget.ReserveAsync(3, ReservationMode.Watermark);
                Note($"r1 admitted 3 [{State(budget)}]");
                CheckI1(budget);

                DrawAsync("r1 explicit", r, 1, () => r.ChargeAsync(1).AsTask());
                await Pause();
                using (r.Enter())
                {
                    Draw("r1 ambient", r, 1, () => budget.TryCharge(1));
                }

                CheckI1(budget);
                await Pause();
                CheckBooks("r1", r);
                long before = r.Remaining; // 1 to 3: each draw took ordinary memory or the reservation
                r.Shrink(1);
                Note($"r1 shrunk by 1 [{State(budget)}]");
                Specification.Assert(r.Remaining == before - 1 && r.Amount == 2, "r1 shrunk by 1 from {0}: remaining {1}, amount {2}.", before, r.Remaining, r.Amount);

                CheckI1(budget);
                await Pause();
                r.Dispose();
                Note($"r1 disposed [{State(budget)}]");
                r.Dispose();
                Specification.Assert(r.IsDisposed && r.Remaining == 0, "r1 disposed keeps {0} bytes.", r.Remaining);
                CheckI1(budget);
                await Pause();
                budget.Uncharge(2); // both draws are charged, from the reservation or from ordinary memory
                Note($"r1 uncharged 2 [{State(budget)}]");
            });

            Task Tokens() => Task.Run(async () =>
            {
                Note($"r2 reserves 2 [{State(budget)}]");
                MemoryReservation r = await budget.ReserveAsync(2, ReservationMode.Tokens);
                Note($"r2 admitted 2 [{State(budget)}]");
                CheckI1(budget);
                using (r.Enter())
                {
                    DrawAsync("r2 ambient", r, 1, () => budget.ChargeAsync(1, AllocationMode.NoFail).AsTask());
                }

                Specification.Assert(r.Remaining == 1 && r.Drawn == 1, "r2 (tokens) did not draw first: remaining {0}, drawn {1}.", r.Remaining, r.Drawn);
                await Pause();
                Draw("r2 explicit", r, 1, () => r.TryCharge(1));
                Specification.Assert(r.Remaining == 0 && r.Drawn == 2, "r2 (tokens) did not draw first: remaining {0}, drawn {1}.", r.Remaining, r.Drawn);
                CheckI1(budget);
                await Pause();
                await r.DisposeAsync();
                Note($"r2 disposed [{State(budget)}]");
                budget.Uncharge(1);
                await Pause();
                budget.Uncharge(1);
                Note($"r2 uncharged 2 [{State(budget)}]");
            });

            Task Charger(string name, long size, int rounds) => Task.Run(async () =>
            {
                for (int round = 0; round < rounds; round++)
                {
                    Note($"{name} charges {size} [{State(budget)}]");
                    await budget.ChargeAsync(size, AllocationMode.NoFail, site: name);
                    Note($"{name} granted {size} [{State(budget)}]");
                    CheckI1(budget);
                    await Pause();
                    budget.Uncharge(size);
                    Note($"{name} uncharged {size} [{State(budget)}]");
                    CheckI1(budget);
                }
            });

            await All(Watermark(), Tokens(), Charger("c1", 1, 2), Charger("c2", 2, 1));
            CheckDrained(budget);
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 2. FIFO admission
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// On a full budget of 4, L (3 bytes) asks for a reservation first, then S1 (1) and S2 (2). Uncharges come one byte
    /// at a time, so S1 would fit long before L: it must still wait for it, and S2 for S1. A TryReserve arrival may not
    /// take a byte while anyone is queued (checked while holding the tree's lock, so that the queue cannot change).
    /// </summary>
    [Fact]
    public void A_large_reservation_queued_first_is_admitted_before_smaller_ones_queued_after_it()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 4);
            Specification.Assert(budget.TryCharge(4), "Could not fill the budget.");

            Task<MemoryReservation> l = budget.ReserveAsync(3).AsTask();
            Specification.Assert(!l.IsCompleted && budget.QueueCount() == 1, "L is not queued.");
            Task lGranted = LastWaiterCompletion(budget);
            Task<MemoryReservation> s1 = budget.ReserveAsync(1).AsTask();
            Specification.Assert(!s1.IsCompleted && budget.QueueCount() == 2, "S1 is not queued.");
            Task s1Granted = LastWaiterCompletion(budget);
            Task<MemoryReservation> s2 = budget.ReserveAsync(2).AsTask();
            Specification.Assert(!s2.IsCompleted && budget.QueueCount() == 3, "S2 is not queued.");
            Task s2Granted = LastWaiterCompletion(budget);
            Specification.Assert(budget.HeadCompletion() == lGranted, "L does not head the queue.");

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

            Task Holder(string name, Task<MemoryReservation> admitted, long size, Task mine, Task? before) => Task.Run(async () =>
            {
                MemoryReservation r = await admitted;
                Note($"{name} admitted {size} [{State(budget)}]");
                CheckI1(budget);
                Specification.Assert(mine.IsCompletedSuccessfully && r.Amount == size && r.Remaining == size, "{0} admitted as {1}.", name, r);
                Specification.Assert(before is null || before.IsCompletedSuccessfully, "{0} was admitted while an older waiter still waited.", name);
                await Pause();
                r.Dispose();
                Note($"{name} disposed [{State(budget)}]");
                CheckI1(budget);
            });

            Task prober = Task.Run(async () =>
            {
                for (int i = 0; i < 6; i++)
                {
                    MemoryReservation? probe;
                    lock (budget.TreeLock())
                    {
                        int queued = budget.QueueCount();
                        bool ok = budget.TryReserve(1, out probe);
                        Note($"probe with {queued} queued: {(ok ? "reserved 1" : "refused")}");
                        Specification.Assert(!ok || queued == 0, "A TryReserve arrival overtook {0} queued waiter(s).", queued);
                    }

                    probe?.Dispose();
                    await Pause();
                }
            });

            await All(releaser, prober, Holder("L", l, 3, lGranted, null), Holder("S1", s1, 1, s1Granted, lGranted), Holder("S2", s2, 2, s2Granted, s1Granted));
            CheckDrained(budget);
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 3. Cancellation racing with the admission
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// A (2 bytes, cancellable) heads the queue of a full budget of 2; B (a 1-byte reservation) and C (a 1-byte NoFail
    /// charge) queue behind it. One actor cancels A while another uncharges the 2 bytes that would admit it. Either
    /// outcome is fine: if admitted, A's reservation holds exactly 2 bytes and B and C still wait until the test disposes
    /// it; if cancelled, nothing of A is left and B and C are already granted.
    /// </summary>
    [Fact]
    public void Cancelling_a_waiting_reservation_while_a_release_admits_it_leaves_no_reservation_behind_and_strands_nobody()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 2);
            Specification.Assert(budget.TryCharge(2), "Could not fill the budget.");
            using var cts = new CancellationTokenSource();
            Task<MemoryReservation> a = budget.ReserveAsync(2, cancellationToken: cts.Token).AsTask();
            Task<MemoryReservation> b = budget.ReserveAsync(1).AsTask();
            Task bGranted = LastWaiterCompletion(budget);
            Task c = budget.ChargeAsync(1, AllocationMode.NoFail, site: "C").AsTask();
            Specification.Assert(budget.QueueCount() == 3 && !a.IsCompleted && !b.IsCompleted && !c.IsCompleted, "A, B and C are not queued.");

            Task canceller = Task.Run(() =>
            {
                Note("cancelling A");
                cts.Cancel();
                Note($"cancelled A [{State(budget)}]");
                CheckI1(budget);
            });
            Task releaser = Task.Run(async () =>
            {
                budget.Uncharge(1);
                Note($"released 1 [{State(budget)}]");
                CheckI1(budget);
                await Pause();
                budget.Uncharge(1);
                Note($"released 1 [{State(budget)}]");
                CheckI1(budget);
            });
            await All(canceller, releaser);

            MemoryReservation? ra;
            try
            {
                ra = await a;
            }
            catch (OperationCanceledException)
            {
                ra = null;
            }

            Note($"A {(ra is null ? "cancelled" : "admitted")} [{State(budget)}]");
            if (ra is not null)
            {
                Specification.Assert(ra.Amount == 2 && ra.Remaining == 2, "A admitted as {0}.", ra);
                Specification.Assert(budget.Reserved == 2 && budget.Used == 0 && budget.QueueCount() == 2 && !bGranted.IsCompleted && !c.IsCompleted,
                    "After A's admission: {0}, {1} queued.", budget.GetSnapshot(), budget.QueueCount());
                ra.Dispose(); // B and C are admitted by this release
                Note($"A disposed [{State(budget)}]");
                ra.Dispose();
            }
            else
            {
                Specification.Assert(a.IsCanceled, "A neither admitted nor cancelled: {0}.", a.Status);
                // B and C are granted by now (their bytes counted, the queue empty); C's task may complete a step later,
                // since a NoFail waiter's charge finishes in its own continuation (it may go back to the killer), and
                // the awaits below catch a waiter that is stranded.
                Specification.Assert(budget.Reserved == 1 && budget.Used == 1 && budget.QueueCount() == 0 && bGranted.IsCompletedSuccessfully,
                    "After A's cancellation and the release of everything: {0}, {1} queued, B {2}, C {3}.", budget.GetSnapshot(), budget.QueueCount(), bGranted.Status, c.Status);
            }

            MemoryReservation rb = await b; // a waiter stranded behind the cancelled or admitted A deadlocks here
            await c;
            Specification.Assert(budget.Reserved == 1 && budget.Used == 1 && budget.QueueCount() == 0, "After B and C: {0}, {1} queued.", budget.GetSnapshot(), budget.QueueCount());
            rb.Dispose();
            budget.Uncharge(1);
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// The cancellation races with the ReserveAsync call itself (it may land before it queues, between queuing and the
    /// registration of the callback, or after), and with an uncharge that admits it; a follower reserves 1 byte. A
    /// cancelled admission leaves no trace; an admitted one is returned and disposed by the test.
    /// </summary>
    [Fact]
    public void Cancelling_a_reservation_while_it_is_still_queuing_leaves_no_trace()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 2);
            Specification.Assert(budget.TryCharge(2), "Could not fill the budget.");
            using var cts = new CancellationTokenSource();

            Task<MemoryReservation?> reserver = Task.Run(async () =>
            {
                try
                {
                    MemoryReservation r = await budget.ReserveAsync(2, cancellationToken: cts.Token);
                    Note($"A admitted [{State(budget)}]");
                    return r;
                }
                catch (OperationCanceledException)
                {
                    Note($"A cancelled [{State(budget)}]");
                    return null;
                }
            });
            Task<MemoryReservation> follower = Task.Run(async () =>
            {
                MemoryReservation r = await budget.ReserveAsync(1);
                Note($"B admitted [{State(budget)}]");
                CheckI1(budget);
                return r;
            });
            Task canceller = Task.Run(() => cts.Cancel());
            Task releaser = Task.Run(() =>
            {
                budget.Uncharge(2);
                Note($"released 2 [{State(budget)}]");
                CheckI1(budget);
            });

            MemoryReservation? ra = await reserver;
            await All(canceller, releaser);
            if (ra is not null)
            {
                Specification.Assert(ra.Remaining == 2 && budget.Reserved >= 2, "A admitted as {0} on {1}.", ra, budget.GetSnapshot());
                ra.Dispose();
            }

            MemoryReservation rb = await follower;
            Specification.Assert(budget.Reserved == 1 && budget.Used == 0 && budget.QueueCount() == 0, "After B: {0}, {1} queued.", budget.GetSnapshot(), budget.QueueCount());
            rb.Dispose();
            CheckDrained(budget);
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 4. A reservation at a child of a two-level tree
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Root 5, children left 3 and right 3. Right holds 2 for the whole test; a reservation of 3 at left fills the root.
    /// w1 (1 byte at right, twice) and w2 (1 byte at the root) must wait at the root. The holder draws 2 (explicitly,
    /// then ambiently): that moves bytes from Reserved to Used and frees nothing, so the waiters stay queued. Disposing
    /// returns the last byte at left and at the root, and only that release can grant the waiters: the holder keeps its
    /// 2 drawn bytes until both waiters are done, so a lost wake-up of the dispose is a deadlock. While the holder is the
    /// only one changing Reserved, Reserved at the root and at left both equal its Remaining.
    /// </summary>
    [Fact]
    public void A_reservation_at_a_child_counts_at_the_root_and_its_dispose_wakes_the_roots_waiters()
    {
        Explore(output, async () =>
        {
            MemoryBudget root = NewBudget(capacity: 5);
            MemoryBudget left = NewChild(root, "left", 3);
            MemoryBudget right = NewChild(root, "right", 3);
            Specification.Assert(right.TryCharge(2), "Could not charge right.");
            Task<MemoryReservation> admission = left.ReserveAsync(3).AsTask();
            Specification.Assert(admission.IsCompletedSuccessfully, "The reservation at left was not admitted at once.");
            MemoryReservation r = await admission;
            Specification.Assert(root.Reserved == 3 && left.Reserved == 3 && right.Reserved == 0 && root.Used == 2,
                "The root does not count left's reservation: {0}", State(root, left, right));

            void CheckReserved(string when)
            {
                Note($"holder {when} [{State(root, left, right)}]");
                CheckI1(root, left, right);
                long remaining = r.Remaining;
                Specification.Assert(root.Reserved == remaining && left.Reserved == remaining && right.Reserved == 0,
                    "After the holder {0}, its reservation keeps {1} bytes but the tree counts {2}.", when, remaining, State(root, left, right));
            }

            Task Waiter(string name, MemoryBudget at, long size, int rounds) => Task.Run(async () =>
            {
                for (int round = 0; round < rounds; round++)
                {
                    Note($"{name} charges {size} at {at.Name}");
                    await at.ChargeAsync(size, AllocationMode.NoFail, site: name);
                    Note($"{name} granted {size} at {at.Name} [{State(root, left, right)}]");
                    CheckI1(root, left, right);
                    Specification.Assert(r.IsDisposed, "{0} was granted {1} bytes at '{2}' while the reservation still filled the root.", name, size, at.Name);
                    await Pause();
                    at.Uncharge(size);
                    Note($"{name} uncharged {size} at {at.Name}");
                }
            });

            Task[] waiters = [Waiter("w1", right, 1, 2), Waiter("w2", root, 1, 1)];
            Task holder = Task.Run(async () =>
            {
                await Pause();
                DrawAsync("holder explicit", r, 1, () => r.ChargeAsync(1).AsTask());
                CheckReserved("drew 1 explicitly");
                await Pause();
                using (r.Enter())
                {
                    Draw("holder ambient", r, 1, () => left.TryCharge(1));
                }

                CheckReserved("drew 1 ambiently");
                Specification.Assert(r.Remaining == 1 && r.Drawn == 2, "The full tree refused ordinary memory, yet the holder drew {0} of 2.", r.Drawn);
                await Pause();
                r.Dispose();
                CheckReserved("disposed");
                await All(waiters); // only the byte the dispose returned can grant them
                left.Uncharge(2);
                Note($"holder uncharged 2 [{State(root, left, right)}]");
            });

            await holder;
            right.Uncharge(2);
            CheckDrained(root, left, right);
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 5. Dispose racing with a draw
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Capacity 4: the test holds 2 ordinary bytes and a reservation of 2, so the budget is full. A drawer takes 1 byte
    /// explicitly (NoWait), then 2 ambiently (NoFail: the excess above Remaining may wait), while two disposers dispose the
    /// reservation and a releaser returns the test's 2 ordinary bytes. Each draw may take from the reservation, go
    /// ordinary, fail (NoWait), or be refused as disposed; afterwards the budget counts exactly the bytes the drawer
    /// holds, Reserved is 0 and the reservation returned what was not drawn exactly once.
    /// </summary>
    [Theory]
    [InlineData(ReservationMode.Watermark)]
    [InlineData(ReservationMode.Tokens)]
    public void Disposing_a_reservation_while_another_task_draws_from_it_keeps_the_accounting_exact(ReservationMode mode)
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 4);
            Specification.Assert(budget.TryCharge(2), "Could not charge the budget.");
            MemoryReservation r = await budget.ReserveAsync(2, mode);
            Specification.Assert(budget.Reserved == 2 && budget.Used == 2, "Not full: {0}", budget.GetSnapshot());

            Task<long> drawer = Task.Run(async () =>
            {
                long held = 0;
                try
                {
                    bool ok = r.TryCharge(1);
                    held += ok ? 1 : 0;
                    Note($"drawer explicit 1: {(ok ? "charged" : "refused")} (remaining {r.Remaining}) [{State(budget)}]");
                }
                catch (ObjectDisposedException)
                {
                    Note($"drawer explicit 1: disposed [{State(budget)}]");
                }

                CheckI1(budget);
                await Pause();
                try
                {
                    using (r.Enter())
                    {
                        Note($"drawer ambient 2 (remaining {r.Remaining}) [{State(budget)}]");
                        await budget.ChargeAsync(2, AllocationMode.NoFail, site: "drawer");
                    }

                    held += 2;
                    Note($"drawer ambient 2: charged [{State(budget)}]");
                }
                catch (ObjectDisposedException)
                {
                    Note($"drawer ambient 2: disposed [{State(budget)}]");
                }

                CheckI1(budget);
                return held;
            });

            Task Disposer(string name) => Task.Run(() =>
            {
                r.Dispose();
                Note($"{name} disposed the reservation [{State(budget)}]");
                CheckI1(budget);
            });

            Task releaser = Task.Run(async () =>
            {
                await Pause();
                budget.Uncharge(1);
                Note($"released 1 [{State(budget)}]");
                await Pause();
                budget.Uncharge(1);
                Note($"released 1 [{State(budget)}]");
                CheckI1(budget);
            });

            await All(drawer, Disposer("d1"), Disposer("d2"), releaser);
            long drawerHolds = await drawer;
            Note($"drawer holds {drawerHolds}, drew {r.Drawn} from the reservation [{State(budget)}]");
            Specification.Assert(r.IsDisposed && r.Remaining == 0 && r.Amount == 2, "The disposed reservation: {0}.", r);
            Specification.Assert(r.Drawn <= drawerHolds, "The reservation counts {0} bytes drawn; the drawer holds {1}.", r.Drawn, drawerHolds);
            Specification.Assert(budget.Reserved == 0 && budget.Used == drawerHolds && budget.QueueCount() == 0,
                "Accounting not exact: the drawer holds {0}, the budget counts {1}, {2} queued.", drawerHolds, budget.GetSnapshot(), budget.QueueCount());
            if (drawerHolds > 0)
            {
                budget.Uncharge(drawerHolds);
            }

            r.Dispose();
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// Capacity 4: the test holds 2 ordinary bytes and a Tokens reservation of 2, so the budget is full. A charger asks
    /// for 3 through the reservation without waiting: it takes what the reservation has and needs 1 ordinary byte, which
    /// exists only if the releaser has returned one. A disposer disposes the reservation meanwhile. A refused excess
    /// gives its take back, to the budget if the reservation was disposed in between, and Drawn must not keep it: at the
    /// end the reservation counts drawn at most what the charger holds, nothing if it holds nothing.
    /// </summary>
    [Fact]
    public void A_take_given_back_after_the_reservation_was_disposed_is_not_counted_drawn()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 4);
            Specification.Assert(budget.TryCharge(2), "Could not charge the budget.");
            Specification.Assert(budget.TryReserve(2, out MemoryReservation? r, ReservationMode.Tokens), "Could not reserve.");

            Task<long> charger = Task.Run(() =>
            {
                try
                {
                    bool ok = r!.TryCharge(3);
                    Note($"charger 3: {(ok ? "charged" : "refused")} (drawn {r.Drawn}) [{State(budget)}]");
                    CheckI1(budget);
                    return ok ? 3L : 0L;
                }
                catch (ObjectDisposedException)
                {
                    Note($"charger 3: disposed [{State(budget)}]");
                    return 0L;
                }
            });

            Task disposer = Task.Run(() =>
            {
                r!.Dispose();
                Note($"disposed (drawn {r.Drawn}) [{State(budget)}]");
                CheckI1(budget);
            });

            Task releaser = Task.Run(() =>
            {
                budget.Uncharge(1);
                Note($"released 1 [{State(budget)}]");
            });

            await All(charger, disposer, releaser);
            long held = await charger;
            Specification.Assert(r!.IsDisposed && r.Remaining == 0 && r.Amount == 2, "The disposed reservation: {0}.", r);
            Specification.Assert(held == 0 ? r.Drawn == 0 : r.Drawn <= 2, "The reservation counts {0} bytes drawn; the charger holds {1}.", r.Drawn, held);
            Specification.Assert(budget.Used == 1 + held && budget.Reserved == 0,
                "Accounting not exact: the charger holds {0} and the test 1, the budget counts {1}.", held, budget.GetSnapshot());
            budget.Uncharge(1 + held);
            CheckDrained(budget);
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 6. Reading Used and Reserved while reservations come and go on other tasks
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Reserved is no counter but the sum of the live reservations' Remaining, kept in one list per admitting thread.
    /// Capacity 10, so nobody waits: a reserves 3 and disposes it; b reserves 4 (Token mode), draws 2, and hands it to
    /// another task, which disposes it; c charges 1 and uncharges it; a reader takes three snapshots. While b holds its
    /// reservation, every reading, b's own and the reader's, counts its 2 drawn bytes as used and its 2 left as reserved,
    /// whatever a and c do (no two sizes here can stand in for each other); at the end the books are exact.
    /// </summary>
    [Fact]
    public void Readings_racing_admissions_draws_and_disposes_on_other_tasks_stay_within_what_the_budget_holds()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 10);
            int bHolds = 0; // 1 from b's draw until it hands the reservation over
            Task a = Task.Run(async () =>
            {
                Specification.Assert(budget.TryReserve(3, out MemoryReservation? r), "a was refused 3 bytes.");
                Note($"a admitted 3 [{State(budget)}]");
                await Pause();
                r!.Dispose();
                Note($"a disposed [{State(budget)}]");
            });
            Task<MemoryReservation> b = Task.Run(async () =>
            {
                MemoryReservation r = await budget.ReserveAsync(4, ReservationMode.Tokens);
                Note($"b admitted 4 [{State(budget)}]");
                r.Charge(2);
                Volatile.Write(ref bHolds, 1);
                Note($"b drew 2 [{State(budget)}]");
                for (int i = 0; i < 2; i++)
                {
                    // Whatever a and c do meanwhile, b's 2 drawn bytes are used and its 2 left are reserved.
                    MemoryBudgetSnapshot s = budget.GetSnapshot();
                    Specification.Assert(s.Used >= 2 && s.Reserved >= 2, "b holds 2 drawn and 2 reserved, but the budget reads {0}", s);
                    await Pause();
                }

                Volatile.Write(ref bHolds, 0);
                return r;
            });
            Task disposer = Task.Run(async () =>
            {
                MemoryReservation r = await b;
                r.Dispose(); // not on the task that admitted it
                Note($"b disposed by another task [{State(budget)}]");
            });
            Task c = Task.Run(async () =>
            {
                budget.Charge(1, AllocationMode.NoWait);
                await Pause();
                budget.Uncharge(1);
            });
            Task reader = Task.Run(async () =>
            {
                for (int i = 0; i < 3; i++)
                {
                    bool held = Volatile.Read(ref bHolds) == 1;
                    MemoryBudgetSnapshot s = budget.GetSnapshot();
                    held &= Volatile.Read(ref bHolds) == 1;
                    Note($"read {s.Used} used, {s.Reserved} reserved{(held ? " while b held" : string.Empty)}");
                    Specification.Assert(!held || (s.Used >= 2 && s.Reserved >= 2), "b held 2 drawn and 2 reserved throughout, but the reader read {0}", s);
                    await Pause();
                }
            });

            await All(a, b, disposer, c, reader);
            budget.Uncharge(2);
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// A disposal leaves the budget's mark of a live reservation to the next reading that finds none, so readings clear
    /// it while admissions list new ones. Capacity 10: d reserves 2 and disposes it (a stale mark); a reserves 3 and
    /// holds it undrawn while c charges and uncharges 1 (each uncharge reads Used) and a reader takes snapshots. Every
    /// reading while a holds its reservation, a's own included, counts its 3 bytes as reserved: a reading that cleared
    /// the mark just as a was admitted would read them as used.
    /// </summary>
    [Fact]
    public void A_reservation_admitted_while_readings_clear_a_stale_mark_stays_counted_as_reserved()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 10);
            int aHolds = 0; // 1 from a's admission until it disposes
            Task d = Task.Run(async () =>
            {
                Specification.Assert(budget.TryReserve(2, out MemoryReservation? r), "d was refused 2 bytes.");
                await Pause();
                r!.Dispose();
                Note($"d disposed [{State(budget)}]");
            });
            Task a = Task.Run(async () =>
            {
                Specification.Assert(budget.TryReserve(3, out MemoryReservation? r), "a was refused 3 bytes.");
                Volatile.Write(ref aHolds, 1);
                Note($"a admitted 3 [{State(budget)}]");
                for (int i = 0; i < 2; i++)
                {
                    MemoryBudgetSnapshot s = budget.GetSnapshot();
                    Specification.Assert(s.Reserved >= 3, "a holds 3 undrawn, but the budget reads {0}", s);
                    await Pause();
                }

                Volatile.Write(ref aHolds, 0);
                r!.Dispose();
                Note($"a disposed [{State(budget)}]");
            });
            Task c = Task.Run(async () =>
            {
                for (int i = 0; i < 3; i++)
                {
                    budget.Charge(1, AllocationMode.NoWait);
                    await Pause();
                    budget.Uncharge(1); // reads Used while the mark is set
                }
            });
            Task reader = Task.Run(async () =>
            {
                for (int i = 0; i < 3; i++)
                {
                    bool held = Volatile.Read(ref aHolds) == 1;
                    MemoryBudgetSnapshot s = budget.GetSnapshot();
                    held &= Volatile.Read(ref aHolds) == 1;
                    Note($"read {s.Used} used, {s.Reserved} reserved{(held ? " while a held" : string.Empty)}");
                    Specification.Assert(!held || s.Reserved >= 3, "a held 3 undrawn throughout, but the reader read {0}", s);
                    await Pause();
                }
            });

            await All(d, a, c, reader);
            CheckDrained(budget);
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// A charge of <paramref name="bytes"/> through <paramref name="r"/> (explicit or ambient) by the only actor drawing
    /// from it: within Remaining, read just before, G1 says it completes synchronously.
    /// </summary>
    private static void DrawAsync(string name, MemoryReservation r, long bytes, Func<Task> charge)
    {
        long before = r.Remaining;
        Specification.Assert(bytes <= before, "{0}: the test draws {1} with only {2} remaining.", name, bytes, before);
        Task draw = charge(); // a Task, not a ValueTask: Coyote 1.7 rewrites a lambda returning ValueTask into invalid IL
        bool done = draw.IsCompletedSuccessfully;
        Note($"{name} {bytes}: {(done ? "charged at once" : "not at once")} (remaining {before} -> {r.Remaining}, drawn {r.Drawn})");
        Specification.Assert(done, "G1 broken: {0}, a charge of {1} within the reservation's remaining {2}, did not complete at once ({3}).",
            name, bytes, before, draw.IsCompleted ? "it failed" : "it waits");
        draw.GetAwaiter().GetResult();
    }

    /// <summary>A TryCharge through a reservation that covers it: G1 says it returns true.</summary>
    private static void Draw(string name, MemoryReservation r, long bytes, Func<bool> tryCharge)
    {
        long before = r.Remaining;
        Specification.Assert(bytes <= before, "{0}: the test draws {1} with only {2} remaining.", name, bytes, before);
        bool ok = tryCharge();
        Note($"{name} {bytes}: {(ok ? "charged" : "refused")} (remaining {before} -> {r.Remaining}, drawn {r.Drawn})");
        Specification.Assert(ok, "G1 broken: {0}, a charge of {1} within the reservation's remaining {2}, was refused.", name, bytes, before);
    }

    /// <summary>Amount = Drawn + Remaining, for a reservation only its caller draws from, shrinks or disposes.</summary>
    private static void CheckBooks(string name, MemoryReservation r) =>
        Specification.Assert(r.Amount == r.Drawn + r.Remaining, "{0}: amount {1} is not drawn {2} + remaining {3}.", name, r.Amount, r.Drawn, r.Remaining);

    /// <summary>The completion of the youngest waiter of the tree: call it right after a request queued, with no other actor running.</summary>
    private static Task LastWaiterCompletion(MemoryBudget budget)
    {
        lock (budget.Tree.Sync)
        {
            return (budget.Tree.ByAge.Last ?? throw new InvalidOperationException("Nobody waits.")).Value.Completion.Task;
        }
    }
}
