using System.Diagnostics;
using Headroom.Reclaim;
using Microsoft.Coyote.Specifications;
using Xunit.Abstractions;
using static Headroom.Coyote.Tests.Concurrency.CoyoteHarness;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// Reclaim (semantics §6) racing with everything else: a cache that really uncharges what it frees is shrunk by direct
/// reclaim in chargers of every mode and by the background worker at once, while others charge and uncharge. No
/// deadlock, no lost wake-up, and no bytes reclaimed (or counted as progress) twice.
/// </summary>
/// <remarks>
/// Reclaimers run inline (<see cref="ReclaimerOptions.Timeout"/> = infinite: a finite one runs them on the thread pool
/// behind a timer, which Coyote does not control). The canary is off (its timer is uncontrolled too). The budgets use
/// explicit watermarks, so that the worker wakes only where the test says. Every body ends with the worker asleep
/// (<see cref="WorkerAsleep"/>).
/// </remarks>
[Collection(CoyoteTests.Name)]
public sealed class ReclaimConcurrencyTests(ITestOutputHelper output)
{
    private const string Domain = "cache";

    /// <summary>
    /// Scheduling steps per schedule: <see cref="WorkerAsleep"/> may spin a few thousand steps until Coyote resumes a worker
    /// whose semaphore was released (it waits on the semaphore's own task, which Coyote does not control).
    /// </summary>
    private const uint MaxSteps = 50_000;

    // Schedules of the mixed test by who shrank the cache (Coyote runs one schedule at a time).
    private static int s_bothKinds;
    private static int s_directOnly;
    private static int s_backgroundOnly;

    private static readonly ReclaimerOptions Inline = new() { Domain = Domain, Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>
    /// Capacity 10, min 2, low 3, high 4. The cache holds 4 and a holder 2: 4 free, exactly low, so the worker sleeps.
    /// Then a MayFail, a RetryMayFail and a NoFail charger of 3 bytes each (15 bytes wanted in all), a holder that gives
    /// its 2 back, and a refill of the cache that may cross low: direct reclaim in each charger, background reclaim
    /// woken by grants below low and by the parked NoFail charger, all against the same cache.
    /// </summary>
    [Fact]
    public void Direct_and_background_reclaim_racing_with_chargers_of_every_mode_and_uncharges_never_deadlock_or_reclaim_bytes_twice()
    {
        s_bothKinds = s_directOnly = s_backgroundOnly = 0;
        ExploreDetached(output, maxSteps: MaxSteps, body: async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 10, min: 2, low: 3, high: 4);
            var cache = new Cache(budget);
            IDisposable registration = budget.RegisterReclaimer(cache, Inline);
            Specification.Assert(cache.TryFill(4) && budget.TryCharge(2), "Could not set up the budget.");
            long others = 2; // bytes charged by the actors, net: what the budget counts besides the cache
            Note($"set up [{State(budget)}] cache {cache.Held}");

            Task Holder(string name, long size, AllocationMode mode, bool blocking) => Task.Run(async () =>
            {
                try
                {
                    if (blocking)
                    {
                        budget.Charge(size, mode, site: name);
                    }
                    else
                    {
                        await budget.ChargeAsync(size, mode, site: name);
                    }
                }
                catch (MemoryAllocationException)
                {
                    Specification.Assert(mode != AllocationMode.NoFail, "A NoFail charge of {0} bytes failed.", size);
                    Note($"{name} ({mode}) refused {size} [{State(budget)}] cache {cache.Held}");
                    return;
                }

                Interlocked.Add(ref others, size);
                Note($"{name} ({mode}) granted {size} [{State(budget)}] cache {cache.Held}");
                CheckI1(budget);
                await Pause();
                Interlocked.Add(ref others, -size);
                budget.Uncharge(size);
                Note($"{name} uncharged {size} [{State(budget)}]");
                CheckI1(budget);
            });

            Task releaser = Task.Run(async () =>
            {
                await Pause();
                Interlocked.Add(ref others, -2);
                budget.Uncharge(2);
                Note($"releaser uncharged 2 [{State(budget)}]");
            });
            Task refill = Task.Run(() =>
            {
                bool filled = cache.TryFill(1); // NoWait: a grant below low wakes the worker
                Note($"refill {(filled ? "charged" : "refused")} 1 [{State(budget)}] cache {cache.Held}");
                CheckI1(budget);
            });

            await All(
                Holder("mayFail", 3, AllocationMode.MayFail, blocking: false),
                Holder("retry", 3, AllocationMode.RetryMayFail, blocking: true),
                Holder("noFail", 3, AllocationMode.NoFail, blocking: false),
                releaser,
                refill);

            cache.CheckExact(Interlocked.Read(ref others)); // the worker may still run: checked under the cache's lock
            Note($"all done [{State(budget)}] cache {cache.Held}, freed {cache.Freed} in {cache.Calls} call(s)");
            cache.Drain();
            CheckDrained(budget);
            registration.Dispose();
            await WorkerAsleep(budget);
            Tally(cache);
        });

        output.WriteLine($"Schedules in which direct and background reclaim both shrank the cache: {s_bothKinds}; only direct: {s_directOnly}; only background: {s_backgroundOnly}.");
        Assert.True(s_bothKinds > 0, "In none of the schedules did direct and background reclaim both shrink the cache.");
    }

    /// <summary>
    /// Capacity 6, watermarks 0; the cache fills it. Four NoFail chargers (2, 3, 1 and 2 bytes) run inside
    /// <see cref="AllocationScope.NoReclaim"/> for the cache's domain, so their own direct reclaim may not touch it: each
    /// one parks, and only the background worker, woken by the park (and by the slow path before it), can free memory for
    /// them. Every one must be granted: a wake that reaches the worker while it is finishing a pass for the same level
    /// must not be lost.
    /// </summary>
    /// <remarks>
    /// Fails today (a deadlock, typically within a few dozen to a few hundred schedules; with three chargers it took up to
    /// a thousand), by two lost wake-ups of
    /// <see cref="BackgroundReclaim"/>, each of which leaves a waiter parked with the cache still full:
    /// (1) the worker finds no shortfall (no waiter queued yet) and, before it clears the level's queued flag in
    /// <c>LeaveBackgroundQueue</c>, waiters park and their wakes are refused by <c>TryQueueForBackground</c> because the
    /// level still looks queued; (2) the worker reclaims for the head waiter and leaves once that one fits, while a
    /// younger waiter, whose park-time wake was refused the same way, then becomes head and needs reclaim: granting the
    /// head in <c>BudgetTree.WakeLevel</c> wakes no background reclaim for the next. Only the canary's tick would re-wake
    /// the worker, and it is off here.
    /// </remarks>
    [Fact]
    public void NoFail_waiters_that_only_background_reclaim_can_satisfy_are_all_granted()
    {
        ExploreDetached(output, maxSteps: MaxSteps, body: async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 6);
            var cache = new Cache(budget);
            IDisposable registration = budget.RegisterReclaimer(cache, Inline);
            Specification.Assert(cache.TryFill(6), "Could not fill the budget.");
            long others = 0;

            Task Waiter(string name, long size) => Task.Run(async () =>
            {
                using (AllocationScope.NoReclaim(Domain))
                {
                    Note($"{name} charges {size} [{State(budget)}] cache {cache.Held}");
                    await budget.ChargeAsync(size, AllocationMode.NoFail, site: name);
                }

                Interlocked.Add(ref others, size);
                Note($"{name} granted {size} [{State(budget)}] cache {cache.Held}");
                CheckI1(budget);
                await Pause();
                Interlocked.Add(ref others, -size);
                budget.Uncharge(size);
                Note($"{name} uncharged {size} [{State(budget)}]");
            });

            await All(Waiter("w1", 2), Waiter("w2", 3), Waiter("w3", 1), Waiter("w4", 2));

            cache.CheckExact(Interlocked.Read(ref others));
            Note($"all done [{State(budget)}] cache {cache.Held}, freed {cache.Freed} in {cache.Calls} call(s)");
            cache.Drain();
            CheckDrained(budget);
            registration.Dispose();
            await WorkerAsleep(budget);
        });
    }

    /// <summary>
    /// Ends a body with the background worker asleep and no wake in flight, so that nothing of the worker is left running
    /// when the schedule ends. Two ways of ending it do not work under Coyote 1.7.11; both crash the test host with a
    /// NullReferenceException in ControlledOperation's constructor, posted from a thread-pool thread through
    /// ControlledSynchronizationContext.Post: a schedule that ends while a wake is in flight (the worker's semaphore was
    /// released, but the worker has not run yet), and <see cref="MemoryBudget.Dispose"/> (which cancels the worker's
    /// <see cref="SemaphoreSlim.WaitAsync(CancellationToken)"/>). A sleeping worker holds nothing and ends no schedule in
    /// a deadlock.
    /// </summary>
    private static async Task WorkerAsleep(MemoryBudget budget)
    {
        BackgroundReclaim worker = budget.Tree.Reclaimers.Background;
        while (worker.IsRunning || worker.IsSignalled)
        {
            await Pause(); // a woken worker resumes only after a few thousand scheduling steps at worst: hence MaxSteps
        }

        Note($"worker asleep after {worker.Passes} pass(es) [{State(budget)}]");
    }

    private static void Tally(Cache cache)
    {
        if (cache.DirectCalls > 0 && cache.BackgroundCalls > 0)
        {
            s_bothKinds++;
        }
        else if (cache.DirectCalls > 0)
        {
            s_directOnly++;
        }
        else if (cache.BackgroundCalls > 0)
        {
            s_backgroundOnly++;
        }
    }

    /// <summary>
    /// A cache whose bytes are charged to the budget. <see cref="Reclaim"/> removes up to the target under the cache's
    /// lock and uncharges exactly what it removed, still under the lock, so that under it the budget counts every byte
    /// the cache holds. It checks that it is called in a reclaim context whose progress counts exactly its uncharges.
    /// </summary>
    private sealed class Cache(MemoryBudget budget) : IMemoryReclaimer
    {
        private readonly object _sync = new();
        private long _held;
        private long _filled;
        private long _freed;
        private long _calls;
        private long _directCalls;
        private long _backgroundCalls;

        internal long Held => Volatile.Read(ref _held);

        internal long Freed => Volatile.Read(ref _freed);

        internal long Calls => Volatile.Read(ref _calls);

        /// <summary>Calls that freed something from a charger's direct reclaim.</summary>
        internal long DirectCalls => Volatile.Read(ref _directCalls);

        /// <summary>Calls that freed something from the background worker.</summary>
        internal long BackgroundCalls => Volatile.Read(ref _backgroundCalls);

        public long GetReclaimableBytes() => Volatile.Read(ref _held);

        /// <summary>Adds <paramref name="bytes"/> to the cache if the budget grants them without waiting.</summary>
        internal bool TryFill(long bytes)
        {
            lock (_sync)
            {
                if (!budget.TryCharge(bytes))
                {
                    return false;
                }

                _held += bytes;
                _filled += bytes;
                return true;
            }
        }

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
        {
            Specification.Assert(target > 0, "The cache was asked for {0} bytes.", target);
            AllocationContext? context = AllocationContext.Current;
            Specification.Assert(context?.Reclaiming is { IsOpen: true }, "The cache was called outside an open reclaim context.");
            Specification.Assert(context!.Consumer is null, "The cache was called with consumer '{0}' current.", context.Consumer?.Name);
            ReclaimProgress progress = context.Reclaiming!;
            long before = progress.Uncharged;
            long freed;
            lock (_sync)
            {
                Interlocked.Increment(ref _calls);
                long used = budget.Used;
                Specification.Assert(used >= _held, "The budget counts {0} bytes while the cache alone holds {1}: bytes were uncharged twice.", used, _held);
                freed = Math.Min(target, _held);
                _held -= freed;
                Specification.Assert(_held >= 0 && _freed + freed + _held == _filled, "The cache freed more than it held.");
                _freed += freed;
                if (freed > 0)
                {
                    budget.Uncharge(freed);
                }
            }

            if (freed > 0)
            {
                // Told by the worker's own frames: its async loop is never inlined, while a charger's direct-reclaim
                // frames can be, once the JIT has tiered them up (as it has after the tests that ran before this one).
                bool direct = !new StackTrace().GetFrames().Any(static f => f.GetMethod()?.DeclaringType is { } type
                    && (type == typeof(BackgroundReclaim) || type.DeclaringType == typeof(BackgroundReclaim)));
                Interlocked.Increment(ref direct ? ref _directCalls : ref _backgroundCalls);
                Note($"{(direct ? "direct" : "background")} reclaim freed {freed} of {target} asked [{State(budget)}] cache {Held}");
            }

            long counted = progress.Uncharged - before;
            Specification.Assert(counted == freed, "Reclaim progress counted {0} bytes for a call that uncharged {1}.", counted, freed);
            return new ReclaimResult(freed);
        }

        /// <summary>With the cache's lock held (so no reclaim is between removing and uncharging): the budget counts the cache and the others, exactly.</summary>
        internal void CheckExact(long others)
        {
            lock (_sync)
            {
                MemoryBudgetSnapshot s = budget.GetSnapshot();
                Specification.Assert(s.Used == _held + others && s.Reserved == 0,
                    "The budget counts {0} (reserved {1}); the cache holds {2} and the others {3}.", s.Used, s.Reserved, _held, others);
                Specification.Assert(_freed + _held == _filled, "The cache was filled with {0} bytes, freed {1} and holds {2}.", _filled, _freed, _held);
            }
        }

        /// <summary>Empties the cache, uncharging what it held.</summary>
        internal void Drain()
        {
            lock (_sync)
            {
                if (_held > 0)
                {
                    budget.Uncharge(_held);
                    _freed += _held;
                    _held = 0;
                }
            }
        }
    }
}
