using Microsoft.Coyote.Specifications;
using Xunit.Abstractions;
using static Headroom.Coyote.Tests.Concurrency.CoyoteHarness;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// The tree's one lock order (killer, then tree, then leaf; see <c>LockOrder</c>) under races that take both of the two
/// big locks: a root's dispose and the OOM killer's last try.
/// </summary>
[Collection(CoyoteTests.Name)]
public sealed class LockOrderConcurrencyTests(ITestOutputHelper output)
{
    /// <summary>
    /// A three-level tree, watermarks 0: root (10) ⊃ mid (10) ⊃ leaf (6). 2 bytes are charged at the leaf and 8 at the
    /// root, so the root is full; W (NoFail, 5) waits at the leaf. K (NoFail, High priority: its class is not held behind
    /// W) fits at the leaf and the mid but not at the root, finds no progress and calls the killer, whose last try charges
    /// the leaf and the mid, is refused at the root and undoes, and the undo wakes the leaf's waiters under the tree's
    /// lock, inside the killer's. Meanwhile the root is disposed, which takes the tree's lock and stops the killer. Both
    /// waiters end with <see cref="ObjectDisposedException"/> and nobody deadlocks.
    /// </summary>
    /// <remarks>
    /// Deadlocked before the lock order was written down: <c>Dispose</c> held the tree's lock while it took the killer's
    /// (to stop the kill timer), and K held the killer's while its undo took the tree's.
    /// </remarks>
    [Fact]
    public void A_root_dispose_racing_the_killers_last_try_in_a_three_level_tree_does_not_deadlock()
    {
        ExploreDetached(output, async () => // detached: the tree starts background work (the reclaim retry timer)
        {
            MemoryBudget root = NewBudget(capacity: 10);
            MemoryBudget mid = NewChild(root, "mid", 10);
            MemoryBudget leaf = NewChild(mid, "leaf", 6);
            leaf.Charge(2, AllocationMode.NoWait);
            root.Charge(8, AllocationMode.NoWait);
            Task w = leaf.ChargeAsync(5, AllocationMode.NoFail, site: "W").AsTask();
            Specification.Assert(!w.IsCompleted && leaf.QueueCount() == 1, "W should wait at the leaf.");
            Note($"set up [{State(root, mid, leaf)}]");

            Task k = Task.Run(async () =>
            {
                try
                {
                    await leaf.ChargeAsync(1, AllocationMode.NoFail, AllocationPriority.High, site: "K");
                    Specification.Assert(false, "K was granted 1 byte at a full root.");
                }
                catch (ObjectDisposedException)
                {
                    Note($"K failed: disposed [{State(root, mid, leaf)}]");
                }
            });
            Task d = Task.Run(() =>
            {
                root.Dispose();
                Note($"root disposed [{State(root, mid, leaf)}]");
            });

            await All(k, d);
            try
            {
                await w;
                Specification.Assert(false, "W was granted at a full root.");
            }
            catch (ObjectDisposedException)
            {
                Note("W failed: disposed");
            }

            CheckI1(root, mid, leaf);
            leaf.Uncharge(2);
            root.Uncharge(8);
            CheckDrained(root, mid, leaf);
        });
    }
}
