using CsCheck;

namespace Headroom.Tests.Properties;

/// <summary>
/// Charges and reservations at a root and its child from several threads at once, checked by CsCheck's
/// linearizability search against a sequential model of what they should hold (semantics §1, §2, §5): the parallel run's
/// end state must be one that some order of the same operations gives, run one at a time on the model.
/// </summary>
/// <remarks>
/// Watermarks are zero and capacities below 1 MiB (no stocks), so a NoWait charge or a reservation is granted exactly
/// when Committed + n fits the capacity of its budget and of the root: the model needs no more rule than that.
/// </remarks>
public sealed class ParallelModelTests
{
    private const long RootCapacity = 1000;
    private const long ChildCapacity = 600;

    [Fact]
    public void Charges_and_reservations_racing_on_two_levels_end_as_some_sequential_order_does() =>
        Gen.Const(0).Select(_ => (new Tree(), new Model()))
            .SampleParallel(
                Gen.Long[1, 400].Operation<Tree, Model>(n => $"child.TryCharge({n})", (t, n) => t.Child.TryCharge(n), (m, n) => m.Charge(child: true, n)),
                Gen.Long[1, 400].Operation<Tree, Model>(n => $"root.TryCharge({n})", (t, n) => t.Root.TryCharge(n), (m, n) => m.Charge(child: false, n)),
                Gen.Long[1, 400].Operation<Tree, Model>(n => $"child.TryReserve({n})", (t, n) => t.Reserve(n), (m, n) => m.Reserve(n)),
                Gen.Int[0, 3].Operation<Tree, Model>(i => $"release reservation {i}", (t, i) => t.Release(i), (m, i) => m.Release(i)),
                equal: (t, m) => t.Reads() == m.Reads(),
                printActual: t => t.Reads().ToString(),
                printModel: m => m.Reads().ToString(),
                iter: 1000);

    /// <summary>The real budgets, and the reservations held, in the order they were admitted.</summary>
    private sealed class Tree
    {
        // The test's own list: admitting and listing (or unlisting and releasing) are one step under this lock, so a
        // release never misses a reservation already admitted. Charges stay unlocked and race both.
        private readonly Lock _sync = new();
        private readonly Queue<MemoryReservation> _held = new();

        public Tree()
        {
            Root = TestBudgets.Flat(RootCapacity, "root");
            Child = Root.CreateChild(TestBudgets.FlatChild("child", ChildCapacity));
        }

        public MemoryBudget Root { get; }

        public MemoryBudget Child { get; }

        public void Reserve(long bytes)
        {
            lock (_sync)
            {
                if (Child.TryReserve(bytes, out MemoryReservation? reservation))
                {
                    _held.Enqueue(reservation);
                }
            }
        }

        /// <summary>Releases the oldest reservation if there is one; <paramref name="unused"/> only varies the name.</summary>
        public void Release(int unused)
        {
            lock (_sync)
            {
                if (_held.TryDequeue(out MemoryReservation? oldest))
                {
                    oldest.Dispose();
                }
            }
        }

        public (long, long, long, long) Reads() => (Root.Used, Root.Reserved, Child.Used, Child.Reserved);
    }

    /// <summary>What the tree should hold: used and reserved per level, and the live reservations oldest first.</summary>
    private sealed class Model
    {
        private readonly Queue<long> _held = new();
        private long _rootUsed;
        private long _childUsed;
        private long _childReserved;

        public void Charge(bool child, long bytes)
        {
            if (Fits(child, bytes))
            {
                _rootUsed += bytes;
                _childUsed += child ? bytes : 0;
            }
        }

        public void Reserve(long bytes)
        {
            if (Fits(child: true, bytes))
            {
                _childReserved += bytes;
                _held.Enqueue(bytes);
            }
        }

        public void Release(int unused)
        {
            if (_held.TryDequeue(out long bytes))
            {
                _childReserved -= bytes;
            }
        }

        // A child's Used and Reserved are also the root's (semantics §8).
        public (long, long, long, long) Reads() => (_rootUsed, _childReserved, _childUsed, _childReserved);

        private bool Fits(bool child, long bytes) =>
            _rootUsed + _childReserved + bytes <= RootCapacity && (!child || _childUsed + _childReserved + bytes <= ChildCapacity);
    }
}
