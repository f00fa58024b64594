using Microsoft.Coyote.Specifications;
using Xunit.Abstractions;
using static Headroom.Coyote.Tests.Concurrency.CoyoteHarness;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// <see cref="MemoryBudget.Dispose"/> racing with waiters: every waiter ends granted or with
/// <see cref="ObjectDisposedException"/>, holders can still unwind, and nothing leaks.
/// </summary>
[Collection(CoyoteTests.Name)]
public sealed class DisposeConcurrencyTests(ITestOutputHelper output)
{
    [Fact]
    public void Disposing_a_budget_while_NoFail_charges_wait_ends_each_granted_or_disposed_and_leaks_nothing()
    {
        Explore(output, async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 2);
            Specification.Assert(budget.TryCharge(2), "Could not fill the budget.");

            Task<bool> Charger(string name, long size) => Task.Run(async () =>
            {
                try
                {
                    await budget.ChargeAsync(size, AllocationMode.NoFail, site: name);
                }
                catch (ObjectDisposedException)
                {
                    Note($"{name} failed: disposed");
                    return false;
                }

                Note($"{name} granted {size} [{State(budget)}]");
                CheckI1(budget);
                await Pause();
                budget.Uncharge(size); // uncharging stays allowed after Dispose
                return true;
            });

            Task<bool>[] waiters = [Charger("w1", 1), Charger("w2", 1), Charger("w3", 2)];
            Task disposer = Task.Run(() =>
            {
                budget.Dispose();
                Note($"disposed [{State(budget)}]");
                Specification.Assert(budget.QueueCount() == 0, "{0} waiter(s) still queued after Dispose returned.", budget.QueueCount());
            });
            Task releaser = Task.Run(async () =>
            {
                budget.Uncharge(1);
                await Pause();
                budget.Uncharge(1);
                Note($"released 2 [{State(budget)}]");
            });

            await All(disposer, releaser);
            await All(waiters); // each ends, granted or disposed; one left waiting deadlocks here
            Specification.Assert(budget.IsDisposed, "Not disposed.");
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// Root 3, children left 3 and right 3; left holds 2 and right 1, so the root is full. Waiters at both children queue
    /// at the root. Left is disposed while left's holder and right's holder unwind: left's waiters end granted or
    /// disposed, right's waiter must be granted (right is alive), and the root ends with nothing charged.
    /// </summary>
    [Fact]
    public void Disposing_a_child_while_waiters_of_both_children_queue_at_the_root_fails_only_its_own_and_strands_nobody()
    {
        Explore(output, async () =>
        {
            MemoryBudget root = NewBudget(capacity: 3);
            MemoryBudget left = NewChild(root, "left", 3);
            MemoryBudget right = NewChild(root, "right", 3);
            Specification.Assert(left.TryCharge(2) && right.TryCharge(1), "Could not fill the root.");

            Task<bool> Charger(string name, MemoryBudget budget, long size) => Task.Run(async () =>
            {
                try
                {
                    await budget.ChargeAsync(size, AllocationMode.NoFail, site: name);
                }
                catch (ObjectDisposedException)
                {
                    Note($"{name} failed: disposed");
                    return false;
                }

                Note($"{name} granted {size} at {budget.Name} [{State(root, left, right)}]");
                CheckI1(root, left, right);
                await Pause();
                budget.Uncharge(size);
                return true;
            });

            Task<bool>[] leftWaiters = [Charger("l1", left, 1), Charger("l2", left, 2)];
            Task<bool> rightWaiter = Charger("r1", right, 2);
            Task disposer = Task.Run(() =>
            {
                left.Dispose();
                Note($"left disposed [{State(root, left, right)}]");
                Specification.Assert(left.QueueCount() == 0, "Left still queues {0} waiter(s) after Dispose returned.", left.QueueCount());
            });
            Task releaser = Task.Run(async () =>
            {
                left.Uncharge(2); // the disposed child's holder unwinds; its bytes leave the root too
                Note($"left released 2 [{State(root, left, right)}]");
                await Pause();
                right.Uncharge(1);
                Note($"right released 1 [{State(root, left, right)}]");
            });

            await All(disposer, releaser);
            try
            {
                left.TryCharge(1);
                Specification.Assert(false, "A charge at the disposed child was accepted.");
            }
            catch (ObjectDisposedException)
            {
            }

            await All(leftWaiters);
            Specification.Assert(await rightWaiter, "The waiter at the live child was not granted.");
            CheckDrained(root, left, right);
        });
    }
}
