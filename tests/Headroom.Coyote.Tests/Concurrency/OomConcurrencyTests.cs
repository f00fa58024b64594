using Microsoft.Coyote.Specifications;
using Xunit.Abstractions;
using static Headroom.Coyote.Tests.Concurrency.CoyoteHarness;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// The OOM killer (semantics §7) racing with its victim: the victim's own charges and uncharges, its reservation's
/// disposal, new chargers and cancellation. A consumer is killed at most once, its reservation is reaped exactly once,
/// its <see cref="MemoryConsumer.Charged"/> is what its flows charged less what they uncharged, and nobody deadlocks.
/// </summary>
/// <remarks>
/// No reclaimer is registered, so a NoFail charge without room finds no progress at once and calls the killer. The
/// kill timeout is a day: its timer must never fire (Coyote does not control timers). Kills are counted twice: by a
/// registration on each consumer's token, and by the killer's reports (which would show a consumer chosen twice even
/// though a token cancels only once).
/// </remarks>
[Collection(CoyoteTests.Name)]
public sealed class OomConcurrencyTests(ITestOutputHelper output)
{
    /// <summary>Schedules of the running test in which somebody was killed (Coyote runs one schedule at a time).</summary>
    private static int s_schedulesWithAKill;

    /// <summary>Schedules of the running test in which a waiter was granted by its visit to the killer, after every release.</summary>
    private static int s_schedulesGrantedByTheKiller;

    /// <summary>
    /// Capacity 10, watermarks 0. The victim V reserves 3 (token mode: its charges draw from the reservation first) and
    /// charges 3; a bystander B charges 1. V then gives back 1 and takes 2, twice, inside its scope and reservation, and
    /// at the end disposes the reservation (perhaps while the reaper does) and uncharges what it holds. Meanwhile K
    /// (NoFail, 6) and N (NoFail, 2) charge: K cannot fit while V holds its memory, so the killer chooses V (badness 6
    /// against B's 1), cancels it and reaps its reservation.
    /// </summary>
    [Fact]
    public void A_kill_racing_with_the_victims_own_charges_uncharges_and_reservation_kills_once_and_loses_no_charge()
    {
        s_schedulesWithAKill = 0;
        ExploreDetached(output, async () =>
        {
            MemoryBudget budget = NewOomBudget(capacity: 10);
            var kills = new KillCounter(budget);
            using var vCts = new CancellationTokenSource();
            using var bCts = new CancellationTokenSource();
            MemoryConsumer v = kills.Register("V", vCts);
            MemoryConsumer b = kills.Register("B", bCts);

            MemoryReservation reservation;
            using (v.Enter())
            {
                reservation = await budget.ReserveAsync(3, ReservationMode.Tokens);
                budget.Charge(3, AllocationMode.NoWait);
            }

            using (b.Enter())
            {
                budget.Charge(1, AllocationMode.NoWait);
            }

            Note($"set up [{State(budget)}] V charged {v.Charged} reserved {v.Reserved}");

            async Task VictimAsync()
            {
                using AllocationScope inV = v.Enter();
                using AllocationScope? inReservation = EnterUnlessReaped(reservation);
                long held = 3;
                for (int round = 0; round < 2 && !vCts.IsCancellationRequested; round++)
                {
                    budget.Uncharge(1);
                    held--;
                    CheckAttributed(v, held);
                    await Pause();
                    if (vCts.IsCancellationRequested)
                    {
                        break;
                    }

                    try
                    {
                        budget.Charge(2, AllocationMode.MayFail);
                        held += 2;
                        Note($"V charged 2 [{State(budget)}] V holds {held}, reservation {reservation.Remaining}");
                    }
                    catch (MemoryAllocationException)
                    {
                        Note($"V refused 2 [{State(budget)}]");
                    }

                    CheckAttributed(v, held);
                    CheckI1(budget);
                }

                reservation.Dispose(); // perhaps while the reaper disposes it
                Note($"V {(vCts.IsCancellationRequested ? "killed" : "done")}, disposed its reservation [{State(budget)}]");
                CheckI1(budget);
                if (held > 0)
                {
                    budget.Uncharge(held);
                }

                CheckAttributed(v, 0);
                Note($"V uncharged {held} [{State(budget)}]");
            }

            await All(Task.Run(VictimAsync), NoFailHolder(budget, "K", 6), NoFailHolder(budget, "N", 2));

            await kills.SettledAsync();
            CheckReservationGone(reservation, v, kills);
            using (b.Enter())
            {
                budget.Uncharge(1);
            }

            CheckAttributed(b, 0);
            v.Dispose();
            b.Dispose();
            CountKill(kills);
            CheckDrained(budget);
        });

        CheckKillsHappened(output);
    }

    /// <summary>
    /// Capacity 8, watermarks 0. V reserves 4 (token mode) and charges 2; K's NoFail charge of 4 needs V's memory, so the
    /// killer chooses V and its reaper disposes V's reservation, while V itself draws 1 from the reservation and then
    /// disposes it. The remainder goes back exactly once: Reserved never goes below 0 and ends at 0, and Used is exact.
    /// </summary>
    [Fact]
    public void The_victim_disposing_its_reservation_while_the_reaper_does_returns_the_remainder_exactly_once()
    {
        s_schedulesWithAKill = 0;
        ExploreDetached(output, async () =>
        {
            MemoryBudget budget = NewOomBudget(capacity: 8);
            var kills = new KillCounter(budget);
            using var vCts = new CancellationTokenSource();
            MemoryConsumer v = kills.Register("V", vCts);

            MemoryReservation reservation;
            using (v.Enter())
            {
                reservation = await budget.ReserveAsync(4, ReservationMode.Tokens);
                budget.Charge(2, AllocationMode.NoWait);
            }

            Note($"set up [{State(budget)}] V charged {v.Charged} reserved {v.Reserved}");

            async Task VictimAsync()
            {
                using AllocationScope inV = v.Enter();
                using AllocationScope? inReservation = EnterUnlessReaped(reservation);
                long held = 2;
                try
                {
                    budget.Charge(1, AllocationMode.NoWait); // drawn from the reservation unless it was reaped
                    held++;
                    Note($"V drew 1 [{State(budget)}] reservation {reservation.Remaining}");
                }
                catch (MemoryAllocationException)
                {
                    Note($"V refused 1 [{State(budget)}]");
                }

                CheckAttributed(v, held);
                CheckI1(budget);
                await Pause();
                reservation.Dispose();
                Note($"V disposed its reservation [{State(budget)}]");
                CheckI1(budget);
                await Pause();
                budget.Uncharge(held);
                CheckAttributed(v, 0);
                Note($"V uncharged {held} [{State(budget)}]");
            }

            await All(Task.Run(VictimAsync), NoFailHolder(budget, "K", 4));

            await kills.SettledAsync();
            CheckReservationGone(reservation, v, kills);
            v.Dispose();
            CountKill(kills);
            CheckDrained(budget);
        });

        CheckKillsHappened(output);
    }

    /// <summary>
    /// Capacity 6, watermarks 0. V holds 4 and B 1. Inside its scope V makes a NoFail charge of 2 with its own token;
    /// D (not a consumer) makes a NoFail charge of 2 with a token that C cancels; B gives its byte back. Whichever NoFail
    /// charge finds no progress first calls the killer, which cancels V: V's own waiter (queued or not yet) ends cancelled
    /// unless a grant won the race, D ends granted or cancelled, and whatever each was granted is uncharged. A cancelled
    /// charge leaves nothing behind, V is killed at most once, and its attribution stays exact.
    /// </summary>
    [Fact]
    public void Cancelled_NoFail_waiters_racing_the_kill_leave_no_trace_and_the_victim_is_killed_once()
    {
        s_schedulesWithAKill = 0;
        ExploreDetached(output, async () =>
        {
            MemoryBudget budget = NewOomBudget(capacity: 6);
            var kills = new KillCounter(budget);
            using var vCts = new CancellationTokenSource();
            using var bCts = new CancellationTokenSource();
            using var dCts = new CancellationTokenSource();
            MemoryConsumer v = kills.Register("V", vCts);
            MemoryConsumer b = kills.Register("B", bCts);
            using (v.Enter())
            {
                budget.Charge(4, AllocationMode.NoWait);
            }

            using (b.Enter())
            {
                budget.Charge(1, AllocationMode.NoWait);
            }

            Note($"set up [{State(budget)}]");

            async Task VictimAsync()
            {
                using AllocationScope inV = v.Enter();
                long held = 4;
                try
                {
                    await budget.ChargeAsync(2, AllocationMode.NoFail, site: "V", cancellationToken: vCts.Token);
                    held += 2;
                    Note($"V granted 2 [{State(budget)}]");
                }
                catch (OperationCanceledException)
                {
                    Specification.Assert(vCts.IsCancellationRequested, "V's charge was cancelled, but V was not killed.");
                    Note($"V's charge cancelled by the kill [{State(budget)}]");
                }

                CheckAttributed(v, held);
                CheckI1(budget);
                await Pause();
                budget.Uncharge(held);
                CheckAttributed(v, 0);
                Note($"V uncharged {held} [{State(budget)}]");
            }

            Task victim = Task.Run(VictimAsync);
            Task d = Task.Run(async () =>
            {
                try
                {
                    await budget.ChargeAsync(2, AllocationMode.NoFail, site: "D", cancellationToken: dCts.Token);
                }
                catch (OperationCanceledException)
                {
                    Note($"D cancelled [{State(budget)}]");
                    CheckI1(budget);
                    return;
                }

                Note($"D granted 2 [{State(budget)}]");
                CheckI1(budget);
                await Pause();
                budget.Uncharge(2);
                Note($"D uncharged 2 [{State(budget)}]");
            });
            Task canceller = Task.Run(() =>
            {
                dCts.Cancel();
                Note($"C cancelled D [{State(budget)}]");
            });
            Task bystander = Task.Run(() =>
            {
                using (b.Enter())
                {
                    budget.Uncharge(1);
                }

                CheckAttributed(b, 0);
                Note($"B uncharged 1 [{State(budget)}]");
            });

            await All(victim, d, canceller, bystander);

            await kills.SettledAsync();
            kills.CheckAtMostOnce();
            v.Dispose();
            b.Dispose();
            CountKill(kills);
            CheckDrained(budget);
        });

        CheckKillsHappened(output);
    }

    /// <summary>
    /// Capacity 6, watermarks 0. V holds 4 and B 1; K asks for 3 (NoFail) while V, done with its work, gives its 4 back.
    /// V's uncharge is made holding the killer's own lock, so the killer chooses either before it (V still holds 4: the
    /// request cannot fit, and V is the right victim) or after it (the request fits: nobody may be killed). Uncharges are
    /// lock-free, so only a check made under that lock can tell the two apart; Linux makes one last allocation attempt
    /// under its OOM lock, before it selects a victim, for exactly this race.
    /// </summary>
    /// <remarks>
    /// Fails today, within a few dozen schedules: K's last try is refused while V still holds its 4 bytes, V gives them
    /// back, and only then does K call the killer (<c>MemoryBudget.TryAfterOom</c> → <c>OomKiller.OutOfMemory</c>), which
    /// chooses at once without trying the request again. It sees V charged 0 and kills B (badness 1), although its own
    /// snapshot shows 5 bytes free for a request of 3. The victim's own kill is needless the same way.
    /// </remarks>
    [Fact]
    public void The_killer_kills_nobody_for_a_request_that_the_victims_own_uncharges_already_made_room_for()
    {
        ExploreDetached(output, async () =>
        {
            MemoryBudget budget = NewOomBudget(capacity: 6);
            var kills = new KillCounter(budget);
            using var vCts = new CancellationTokenSource();
            using var bCts = new CancellationTokenSource();
            MemoryConsumer v = kills.Register("V", vCts);
            MemoryConsumer b = kills.Register("B", bCts);
            using (v.Enter())
            {
                budget.Charge(4, AllocationMode.NoWait);
            }

            using (b.Enter())
            {
                budget.Charge(1, AllocationMode.NoWait);
            }

            object killerLock = KillerLock(budget);
            Task victim = Task.Run(() =>
            {
                lock (killerLock) // the killer chooses before or after this, never during it
                {
                    using (v.Enter())
                    {
                        budget.Uncharge(4);
                    }
                }

                CheckAttributed(v, 0);
                Note($"V uncharged 4 [{State(budget)}]");
            });

            await All(victim, NoFailHolder(budget, "K", 3));

            await kills.SettledAsync();
            kills.CheckAtMostOnce();
            foreach (OomReport report in kills.Reports.Where(static r => r.Victim is not null))
            {
                long vSeen = report.Candidates.Single(static c => c.Name == "V").Charged;
                Specification.Assert(vSeen == 4,
                    "The OOM killer killed {0} for K's 3 bytes after V had given its 4 back (it saw V charged {1}; its snapshot: {2}): the request fit, no kill was needed.",
                    report.Victim!.Name, vSeen, report.ShortBudget);
            }

            using (b.Enter())
            {
                budget.Uncharge(1);
            }

            v.Dispose();
            b.Dispose();
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// Charges and uncharges on a consumer's flows count as its own (semantics §7), and a scope flows into the tasks
    /// started inside it (AsyncLocal, semantics §4). The parent opens V's scope, starts a task and closes the scope at once;
    /// the task charges 2 and uncharges 1 on its inherited flow while an unrelated actor opens and closes a scope of its
    /// own. V must count 1, whatever the unrelated actor does meanwhile.
    /// </summary>
    [Fact]
    public void A_task_started_in_a_consumers_scope_stays_attributed_to_it_whatever_scopes_other_flows_open()
    {
        ExploreDetached(output, async () =>
        {
            MemoryBudget budget = NewOomBudget(capacity: 10);
            using var vCts = new CancellationTokenSource();
            MemoryConsumer v = budget.RegisterConsumer("V", vCts);

            Task child;
            using (v.Enter())
            {
                child = Task.Run(async () =>
                {
                    budget.Charge(2, AllocationMode.NoWait);
                    Note($"child charged 2, V counts {v.Charged} [{State(budget)}]");
                    await Pause();
                    budget.Uncharge(1);
                    Note($"child uncharged 1, V counts {v.Charged} [{State(budget)}]");
                });
            }

            Task unrelated = Task.Run(async () =>
            {
                using (AllocationScope.NoIo())
                {
                    Note("unrelated scope opened");
                    await Pause();
                }

                Note("unrelated scope closed");
            });

            await All(child, unrelated);
            CheckAttributed(v, 1);
            budget.Uncharge(1);
            v.Dispose();
            CheckDrained(budget);
        });
    }

    /// <summary>The OOM killer's lock (<c>OomKiller._sync</c>, private): it is held while the killer chooses and marks its victim.</summary>
    private static object KillerLock(MemoryBudget budget) => budget.Tree.Oom.Sync;

    /// <summary>Opens the reservation's scope on this flow, or nothing when the reaper already disposed it.</summary>
    private static AllocationScope? EnterUnlessReaped(MemoryReservation reservation)
    {
        try
        {
            return reservation.Enter();
        }
        catch (ObjectDisposedException)
        {
            Note("V's reservation was reaped before V started");
            return null;
        }
    }

    /// <summary>The victim's reservation went back exactly once (by the reaper or by V itself), and V was killed at most once.</summary>
    private static void CheckReservationGone(MemoryReservation reservation, MemoryConsumer v, KillCounter kills)
    {
        Specification.Assert(reservation.IsDisposed && reservation.Remaining == 0 && v.Reserved == 0, "V's reservation is not gone: {0} remain.", reservation.Remaining);
        kills.CheckAtMostOnce();
    }

    private static void CountKill(KillCounter kills)
    {
        if (kills.Reports.Any(static r => r.Victim is not null))
        {
            s_schedulesWithAKill++;
        }
    }

    /// <summary>
    /// The three parties that may complete a waiter, racing with a consumer registered (so that every waiter goes back to
    /// the killer): a cancellation, an uncharge's grant, and the killer's grant in the waiter's place. Capacity 2; the
    /// test holds 1 byte and the consumer V the other. A (2 bytes, cancellable) finds no room: the killer kills V and A
    /// queues; B and C (1 byte each) queue behind it. Then, concurrently, V gives its byte back once its token is
    /// cancelled (its release sends every waiter back to the killer), C cancels A, and R uncharges the test's byte.
    /// Whoever wins, A ends granted with exactly its 2 bytes or cancelled with nothing, B and C are granted, V is killed
    /// once, and nothing is left behind.
    /// </summary>
    [Fact]
    public void A_cancellation_an_uncharge_and_the_killers_grant_in_place_complete_each_waiter_once_with_its_bytes_charged_once()
    {
        s_schedulesWithAKill = 0;
        s_schedulesGrantedByTheKiller = 0;
        ExploreDetached(output, async () =>
        {
            MemoryBudget budget = NewOomBudget(capacity: 2);
            var kills = new KillCounter(budget);
            using var vCts = new CancellationTokenSource();
            MemoryConsumer v = kills.Register("V", vCts);
            using (v.Enter())
            {
                budget.Charge(1, AllocationMode.NoWait);
            }

            budget.Charge(1, AllocationMode.NoWait);
            var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using CancellationTokenRegistration onKill = vCts.Token.Register(() => killed.TrySetResult());
            using var aCts = new CancellationTokenSource();
            Task a = budget.ChargeAsync(2, AllocationMode.NoFail, site: "A", cancellationToken: aCts.Token).AsTask();
            Task b = budget.ChargeAsync(1, AllocationMode.NoFail, site: "B").AsTask();
            Task c = budget.ChargeAsync(1, AllocationMode.NoFail, site: "C").AsTask();
            Specification.Assert(budget.QueueCount() == 3, "A, B and C are not queued: {0} [{1}].", budget.QueueCount(), State(budget));
            Note($"A, B, C queued [{State(budget)}]");

            Task victim = Task.Run(async () =>
            {
                await killed.Task;
                using (v.Enter())
                {
                    budget.Uncharge(1);
                }

                CheckAttributed(v, 0);
                Note($"V gave back 1 [{State(budget)}]");
                CheckI1(budget);
            });
            Task canceller = Task.Run(() =>
            {
                aCts.Cancel();
                Note($"cancelled A: A {a.Status} [{State(budget)}]");
                CheckI1(budget);
            });
            Task releaser = Task.Run(() =>
            {
                budget.Uncharge(1);
                Note($"R released 1 [{State(budget)}]");
                CheckI1(budget);
            });
            await All(victim, canceller, releaser);
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
                Specification.Assert(budget.Used == 2 && budget.QueueCount() == 2, "After A's grant: {0}, {1} queued.", budget.GetSnapshot(), budget.QueueCount());
                budget.Uncharge(2);
            }
            else
            {
                Specification.Assert(a.IsCanceled, "A neither granted nor cancelled: {0}.", a.Status);
            }

            await All(b, c); // a waiter stranded behind the cancelled or granted A, or granted without its task, hangs here
            Specification.Assert(budget.Used == 2 && budget.QueueCount() == 0, "After B and C: {0}, {1} queued.", budget.GetSnapshot(), budget.QueueCount());
            budget.Uncharge(1);
            budget.Uncharge(1);

            await kills.SettledAsync();
            kills.CheckAtMostOnce();
            v.Dispose();
            CountKill(kills);
            s_schedulesGrantedByTheKiller += budget.Tree.Oom.GrantsInPlace > 0 ? 1 : 0;
            CheckDrained(budget);
        });

        CheckKillsHappened(output);
        output.WriteLine($"Schedules in which a waiter's visit to the killer granted it: {s_schedulesGrantedByTheKiller}.");
        Assert.True(s_schedulesGrantedByTheKiller > 0, "No schedule had a waiter granted by its visit to the killer: the race was not explored.");
    }

    /// <summary>After an exploration: the races the test is about did happen, in some schedules at least.</summary>
    private static void CheckKillsHappened(ITestOutputHelper output)
    {
        output.WriteLine($"Schedules with a kill: {s_schedulesWithAKill}.");
        Assert.True(s_schedulesWithAKill > 0, "The OOM killer killed nobody in any schedule.");
    }

    /// <summary>A root budget with watermarks at 0, no canary, and a kill timeout that never fires during a test.</summary>
    private static MemoryBudget NewOomBudget(long capacity) => new(new MemoryBudgetOptions
    {
        Name = "root",
        Capacity = capacity,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        Oom = new OomOptions { KillTimeout = TimeSpan.FromDays(1) },
    });

    /// <summary>A NoFail charge (not a consumer's) that holds what it was granted for a moment and gives it back.</summary>
    private static Task NoFailHolder(MemoryBudget budget, string name, long size) => Task.Run(async () =>
    {
        Note($"{name} charges {size} (NoFail) [{State(budget)}]");
        await budget.ChargeAsync(size, AllocationMode.NoFail, site: name);
        Note($"{name} granted {size} [{State(budget)}]");
        CheckI1(budget);
        await Pause();
        budget.Uncharge(size);
        Note($"{name} uncharged {size} [{State(budget)}]");
        CheckI1(budget);
    });

    /// <summary>On the consumer's own flow, where nothing else attributes to it: its count is exactly what it holds.</summary>
    private static void CheckAttributed(MemoryConsumer consumer, long held) =>
        Specification.Assert(consumer.Charged == held, "{0} holds {1} bytes on its flows, but is attributed {2}.", consumer.Name, held, consumer.Charged);

    /// <summary>Counts kills per consumer by its token and by the killer's reports.</summary>
    private sealed class KillCounter
    {
        private readonly MemoryBudget _budget;
        private readonly Dictionary<string, int> _cancelled = [];
        private readonly Dictionary<string, int> _reported = [];
        private readonly List<MemoryConsumer> _consumers = [];

        internal KillCounter(MemoryBudget budget)
        {
            _budget = budget;
            budget.OutOfMemory += (_, report) =>
            {
                string victim = report.Victim?.Name ?? "nobody";
                lock (_reported)
                {
                    _reported[victim] = _reported.GetValueOrDefault(victim) + 1;
                    Reports.Add(report);
                }

                Note($"OOM killer chose {victim} for {report.RequestedBytes} bytes at [{report.ShortBudget}]; "
                    + string.Join(", ", report.Candidates.Select(static c => FormattableString.Invariant($"{c.Name} charged {c.Charged} reserved {c.Reserved}"))));
            };
        }

        /// <summary>The killer's reports, in order.</summary>
        internal List<OomReport> Reports { get; } = [];

        /// <summary>
        /// Waits for the asynchronous part of every kill (the signal and the reaper run on workers of their own, never on
        /// the allocating thread), so that tokens are counted once cancelled.
        /// </summary>
        internal Task SettledAsync() => All([.. _consumers.Select(static c => c.Killing)]);

        internal MemoryConsumer Register(string name, CancellationTokenSource cts)
        {
            lock (_cancelled)
            {
                _cancelled[name] = 0;
            }

            cts.Token.Register(() =>
            {
                lock (_cancelled)
                {
                    _cancelled[name]++;
                }
            });
            MemoryConsumer consumer = _budget.RegisterConsumer(name, cts);
            _consumers.Add(consumer);
            return consumer;
        }

        internal void CheckAtMostOnce()
        {
            lock (_cancelled)
            lock (_reported)
            {
                foreach ((string name, int cancelled) in _cancelled)
                {
                    int reported = _reported.GetValueOrDefault(name);
                    Specification.Assert(cancelled <= 1 && reported <= 1, "{0} was killed {1} time(s) by its token and chosen {2} time(s) by the killer.", name, cancelled, reported);
                    Specification.Assert(cancelled == reported, "{0} was chosen {1} time(s) but its token was cancelled {2} time(s).", name, reported, cancelled);
                }
            }
        }
    }
}
