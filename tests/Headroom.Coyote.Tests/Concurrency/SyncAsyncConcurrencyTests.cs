using Microsoft.Coyote.Specifications;
using Xunit.Abstractions;
using static Headroom.Coyote.Tests.Concurrency.CoyoteHarness;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// Blocking <see cref="MemoryBudget.Charge"/> and asynchronous <see cref="MemoryBudget.ChargeAsync"/> callers share one
/// wait queue (semantics §3): neither kind loses a wake-up, and FIFO holds across the two.
/// </summary>
[Collection(CoyoteTests.Name)]
public sealed class SyncAsyncConcurrencyTests(ITestOutputHelper output)
{
    [Fact]
    public void Blocking_and_async_NoFail_chargers_in_one_queue_never_deadlock_or_break_I1()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 3);

            Task Blocking(string name, long size, int rounds) => Task.Run(() =>
            {
                for (int round = 0; round < rounds; round++)
                {
                    budget.Charge(size, AllocationMode.NoFail, site: name);
                    Note($"{name} (sync) granted {size} [{State(budget)}]");
                    CheckI1(budget);
                    Specification.Assert(budget.Used >= size, "{0} holds {1} bytes; the budget counts {2}.", name, size, budget.Used);
                    budget.Uncharge(size);
                }
            });

            Task Async(string name, long size, int rounds) => Task.Run(async () =>
            {
                for (int round = 0; round < rounds; round++)
                {
                    await budget.ChargeAsync(size, AllocationMode.NoFail, site: name);
                    Note($"{name} (async) granted {size} [{State(budget)}]");
                    CheckI1(budget);
                    Specification.Assert(budget.Used >= size, "{0} holds {1} bytes; the budget counts {2}.", name, size, budget.Used);
                    await Pause();
                    budget.Uncharge(size);
                }
            });

            await All(Blocking("s1", 2, 2), Blocking("s2", 1, 2), Async("a1", 2, 2), Async("a2", 1, 2), Blocking("s3", 3, 1));
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// On a full budget of 4: S (3 bytes, blocking) queues first, then A (1 byte, async), then T (2 bytes, blocking).
    /// One byte comes back at a time. A fits long before S but must wait for it; T must wait for A.
    /// </summary>
    [Fact]
    public void Fifo_holds_across_blocking_and_async_waiters()
    {
        Explore(output, async () =>
        {
            var probe = new WaiterProbe();
            MemoryBudget budget = NewBudget(capacity: 4, clock: probe);
            probe.TreeLock = budget.TreeLock();
            Specification.Assert(budget.TryCharge(4), "Could not fill the budget.");

            Task sWaits = probe.NextWaiter();
            Task s = Task.Run(() =>
            {
                budget.Charge(3, AllocationMode.NoFail, site: "S");
                Note($"S (sync) granted 3 [{State(budget)}]");
                CheckI1(budget);
            });
            await sWaits; // S holds its ticket: A, below, is younger

            Task a = budget.ChargeAsync(1, AllocationMode.NoFail, site: "A").AsTask();
            Specification.Assert(budget.QueueCount() == 2 && !a.IsCompleted, "S and A are not queued.");
            Task sGranted = budget.HeadCompletion(); // S's waiter: completes when S is granted
            Specification.Assert(sGranted != a, "A, not S, heads the queue.");
            Task aHolder = Task.Run(async () =>
            {
                await a;
                Note($"A (async) granted 1 [{State(budget)}]");
                Specification.Assert(sGranted.IsCompletedSuccessfully, "A (1 byte, async) was granted while S (3 bytes, blocking), queued before it, still waited.");
            });

            Task tWaits = probe.NextWaiter();
            Task t = Task.Run(() =>
            {
                budget.Charge(2, AllocationMode.NoFail, site: "T");
                Note($"T (sync) granted 2 [{State(budget)}]");
                Specification.Assert(a.IsCompletedSuccessfully, "T (blocking) was granted while A (async), queued before it, still waited.");
            });
            await tWaits; // T holds its ticket, younger than A's

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

            await All(s, aHolder, releaser);
            Specification.Assert(!t.IsCompleted, "T (2 bytes) was granted while S and A held the whole budget.");
            budget.Uncharge(3); // S's bytes: T can only be granted once they come back
            budget.Uncharge(1); // A's
            await t;
            budget.Uncharge(2);
            CheckDrained(budget);
        });
    }
}
