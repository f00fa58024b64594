using CsCheck;

namespace Headroom.Tests.Properties;

/// <summary>
/// Random operations over random budget trees, checked against a small model after every step: invariant I1 at every
/// level, exact accounting (a level's Used is what its subtree holds, its Reserved what its subtree's reservations
/// still promise), refusals that change nothing, guarantee G1 on every draw, and no waiter left behind once
/// everything is returned.
/// </summary>
public sealed class BudgetModelTests
{
    private enum Op
    {
        Charge,
        Uncharge,
        WaitingCharge,
        BadCharge,
        Reserve,
        ReservedCharge,
        Shrink,
        Release,
    }

    private sealed record Node(int Parent, long Capacity, long Min, long Low, long High);

    private sealed record Step(Op Op, int Budget, long Bytes, AllocationMode Mode, AllocationPriority Priority);

    /// <summary>A live reservation and what the model expects of it.</summary>
    private sealed class Held(int budget, MemoryReservation reservation)
    {
        public int Budget { get; } = budget;

        public MemoryReservation Reservation { get; } = reservation;

        public long Remaining { get; set; } = reservation.Amount;
    }

    private static readonly Gen<Node[]> Trees =
        from rootCapacity in Gen.Long[16, 4096]
        from extra in Gen.Select(Gen.Int[0, 1000], Gen.Double[0.05, 1.0], Gen.Double[0, 1], Gen.Double[0, 1], Gen.Double[0, 1]).Array[0, 5]
        select Build(rootCapacity, extra);

    private static readonly Gen<Step> Steps =
        from op in Gen.Frequency(
            (4, Gen.Const(Op.Charge)), (4, Gen.Const(Op.Uncharge)), (2, Gen.Const(Op.WaitingCharge)), (1, Gen.Const(Op.BadCharge)),
            (2, Gen.Const(Op.Reserve)), (4, Gen.Const(Op.ReservedCharge)), (1, Gen.Const(Op.Shrink)), (1, Gen.Const(Op.Release)))
        from budget in Gen.Int[0, 5]
        from fraction in Gen.Double[0.01, 0.6]
        from mode in Gen.Int[0, 2].Select(m => (AllocationMode)m) // the modes that do not wait
        from priority in Gen.Enum<AllocationPriority>()
        select new Step(op, budget, (long)(fraction * 1_000_000), mode, priority);

    [Fact]
    public void Random_operations_keep_I1_and_exact_accounting_at_every_level() =>
        Gen.Select(Trees, Steps.Array[1, 60]).Sample((tree, steps) => Run(tree, steps), iter: 1000);

    private static Node[] Build(long rootCapacity, (int Parent, double Share, double Min, double Low, double High)[] extra)
    {
        var nodes = new List<Node> { Watermarked(-1, rootCapacity, 0.1, 0.5, 0.7) };
        foreach ((int parent, double share, double min, double low, double high) in extra)
        {
            int p = parent % nodes.Count;
            long capacity = Math.Max(1, (long)(nodes[p].Capacity * share));
            nodes.Add(Watermarked(p, capacity, min, low, high));
        }

        return [.. nodes];

        static Node Watermarked(int parent, long capacity, double min, double low, double high)
        {
            long m = (long)(capacity / 8 * min);
            long l = m + (long)((capacity / 4 - m) * low);
            long h = l + (long)((capacity / 2 - l) * high);
            return new Node(parent, capacity, m, Math.Max(l, m), Math.Max(h, Math.Max(l, m)));
        }
    }

    private static void Run(Node[] tree, Step[] steps)
    {
        var budgets = new MemoryBudget[tree.Length];
        for (int i = 0; i < tree.Length; i++)
        {
            budgets[i] = tree[i].Parent < 0
                ? new MemoryBudget(new MemoryBudgetOptions
                {
                    Name = $"b{i}",
                    Capacity = tree[i].Capacity,
                    MinWatermark = tree[i].Min,
                    LowWatermark = tree[i].Low,
                    HighWatermark = tree[i].High,
                    CanaryInterval = Timeout.InfiniteTimeSpan,
                })
                : budgets[tree[i].Parent].CreateChild(new ChildBudgetOptions
                {
                    Name = $"b{i}",
                    Capacity = tree[i].Capacity,
                    MinWatermark = tree[i].Min,
                    LowWatermark = tree[i].Low,
                    HighWatermark = tree[i].High,
                });
        }

        var model = new Model(tree, budgets);
        foreach (Step step in steps)
        {
            model.Apply(step);
            model.Check();
        }

        model.Drain();
        budgets[0].Dispose();
    }

    /// <summary>What each budget holds, charged by whom; pending waits; and the rule for a grant without waiting.</summary>
    private sealed class Model(Node[] tree, MemoryBudget[] budgets)
    {
        private readonly List<long>[] _held = [.. tree.Select(_ => new List<long>())];
        private readonly List<(int Budget, long Bytes, Task Wait)> _waiting = [];
        private readonly List<Held> _reservations = [];

        public void Apply(Step step)
        {
            int b = step.Budget % budgets.Length;
            MemoryBudget budget = budgets[b];
            switch (step.Op)
            {
                case Op.Charge:
                {
                    long bytes = Math.Max(1, step.Bytes * tree[b].Capacity / 1_000_000);
                    // The model's waiters are ordinary: they hold back ordinary charges only (FIFO among equal callers).
                    bool expected = Fits(b, bytes, SlowFloor(step.Mode, step.Priority), heldBack: step.Priority == AllocationPriority.Normal);
                    long[] before = Used();
                    Assert.Equal(expected, budget.TryCharge(bytes, step.Mode, step.Priority));
                    if (expected)
                    {
                        _held[b].Add(bytes);
                    }
                    else
                    {
                        Assert.Equal(before, Used()); // a refusal changes nothing
                    }

                    break;
                }

                case Op.Uncharge when _held[b].Count > 0:
                {
                    int index = (int)(step.Bytes % _held[b].Count);
                    long bytes = _held[b][index];
                    _held[b].RemoveAt(index);
                    budget.Uncharge(bytes);
                    break;
                }

                case Op.Uncharge:
                {
                    // The rule is checked against Committed (Used when nothing is reserved at or below this budget).
                    long[] before = Used();
                    Assert.Throws<ArgumentOutOfRangeException>(() => budget.Uncharge(budget.Committed + 1));
                    Assert.Equal(before, Used());
                    break;
                }

                case Op.WaitingCharge:
                {
                    long bytes = Math.Max(1, step.Bytes * tree[b].Capacity / 1_000_000);
                    if (!Grantable(b, bytes))
                    {
                        Assert.Throws<ArgumentOutOfRangeException>(() => budget.Charge(bytes, AllocationMode.NoFail)); // would wait forever
                        break;
                    }

                    _waiting.Add((b, bytes, budget.ChargeAsync(bytes, AllocationMode.NoFail).AsTask()));
                    break;
                }

                case Op.Reserve:
                {
                    long bytes = Math.Max(1, step.Bytes * tree[b].Capacity / 1_000_000);
                    if (!Admissible(b, bytes))
                    {
                        Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryReserve(bytes, out _));
                        break;
                    }

                    bool expected = Fits(b, bytes, n => n.Min);
                    long[] before = Used();
                    ReservationMode mode = step.Priority == AllocationPriority.High ? ReservationMode.Tokens : ReservationMode.Watermark;
                    Assert.Equal(expected, budget.TryReserve(bytes, out MemoryReservation? r, mode));
                    if (r is not null)
                    {
                        _reservations.Add(new Held(b, r));
                    }
                    else
                    {
                        Assert.Equal(before, Used()); // a refusal changes nothing
                    }

                    break;
                }

                case Op.ReservedCharge when _reservations.Count > 0:
                    ChargeThrough(_reservations[(int)(step.Bytes % _reservations.Count)], step);
                    break;

                case Op.Shrink when _reservations.Count > 0:
                {
                    Held held = _reservations[(int)(step.Bytes % _reservations.Count)];
                    long bytes = held.Remaining == 0 ? 1 : 1 + (step.Bytes % held.Remaining);
                    if (held.Remaining == 0)
                    {
                        Assert.Throws<ArgumentOutOfRangeException>(() => held.Reservation.Shrink(bytes));
                        break;
                    }

                    held.Reservation.Shrink(bytes);
                    held.Remaining -= bytes;
                    break;
                }

                case Op.Release when _reservations.Count > 0:
                {
                    Held held = _reservations[(int)(step.Bytes % _reservations.Count)];
                    held.Reservation.Dispose();
                    _reservations.Remove(held);
                    break;
                }

                case Op.BadCharge:
                {
                    long[] before = Used();
                    long bytes = step.Bytes % 2 == 0 ? -step.Bytes : tree[b].Capacity + 1 + step.Bytes;
                    Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryCharge(bytes, step.Mode, step.Priority));
                    Assert.Equal(before, Used());
                    break;
                }
            }

            Collect();
        }

        public void Check()
        {
            for (int i = 0; i < budgets.Length; i++)
            {
                MemoryBudgetSnapshot s = budgets[i].GetSnapshot();
                Assert.True(s.Used >= 0 && s.Reserved >= 0 && s.Used + s.Reserved <= s.Capacity, $"I1 broken: {s}");
                Assert.Equal(SubtreeHeld(i), s.Used);
                Assert.Equal(SubtreeReserved(i), s.Reserved);
            }

            foreach (Held held in _reservations)
            {
                Assert.Equal(held.Remaining, held.Reservation.Remaining);
                Assert.Equal(held.Reservation.Amount, held.Reservation.Drawn + held.Reservation.Remaining);
            }
        }

        /// <summary>
        /// A charge through a reservation: Watermark mode takes ordinary memory when it fits without blocking; then
        /// what the reservation covers is drawn and the excess must fit as ordinary memory. G1: a charge the
        /// reservation covers is always granted.
        /// </summary>
        private void ChargeThrough(Held held, Step step)
        {
            int b = held.Budget;
            long bytes = Math.Max(1, step.Bytes % (2 * Math.Max(1, held.Remaining) + 1));
            if (bytes > tree[b].Capacity)
            {
                return;
            }

            Func<Node, long> floor = SlowFloor(step.Mode, step.Priority);
            bool heldBack = step.Priority == AllocationPriority.Normal;
            bool ordinary = held.Reservation.Mode == ReservationMode.Watermark && (Fits(b, bytes, n => n.Low) || Fits(b, bytes, floor, heldBack));
            long drawn = ordinary ? 0 : Math.Min(bytes, held.Remaining);
            long excess = ordinary ? 0 : bytes - drawn;
            bool expected = ordinary || excess == 0 || Fits(b, excess, floor, heldBack);

            long[] before = Used();
            bool granted = held.Reservation.TryCharge(bytes, step.Mode, step.Priority);
            Assert.Equal(expected, granted);
            if (bytes <= held.Remaining)
            {
                Assert.True(granted, "G1: a charge the reservation covers was refused");
            }

            if (granted)
            {
                held.Remaining -= drawn;
                _held[b].Add(bytes);
            }
            else
            {
                Assert.Equal(before, Used());
            }
        }

        /// <summary>Returns everything, repeatedly, until every waiter was granted and returned: no lost wake-up.</summary>
        public void Drain()
        {
            foreach (Held held in _reservations)
            {
                held.Reservation.Dispose();
            }

            _reservations.Clear();
            Collect();

            while (_held.Any(h => h.Count > 0))
            {
                for (int b = 0; b < budgets.Length; b++)
                {
                    foreach (long bytes in _held[b])
                    {
                        budgets[b].Uncharge(bytes);
                    }

                    _held[b].Clear();
                }

                Collect(); // waiters granted by those uncharges are held now, and returned in the next round
                Check();
            }

            Assert.True(_waiting.Count == 0, $"everything was returned, yet {_waiting.Count} waiter(s) still wait: a lost wake-up");
            foreach (MemoryBudget budget in budgets)
            {
                Assert.Equal(0, budget.Used);
                Assert.Equal(0, budget.Reserved);
                Assert.Equal(0, budget.Queue.Count);
            }
        }

        private void Collect()
        {
            // A granted NoFail charge is accounted when it is granted, but its task may complete a moment later on
            // another thread (the waiter's continuation); a waiter still queued never completes. Let those that left
            // every queue finish before the model counts them, or a loaded machine reads a grant as a lost wake-up.
            SpinWait.SpinUntil(() => _waiting.Count(w => !w.Wait.IsCompleted) <= budgets.Sum(x => x.Queue.Count), TimeSpan.FromSeconds(10));
            for (int i = _waiting.Count - 1; i >= 0; i--)
            {
                (int b, long bytes, Task wait) = _waiting[i];
                if (wait.IsCompleted)
                {
                    Assert.True(wait.IsCompletedSuccessfully);
                    _held[b].Add(bytes);
                    _waiting.RemoveAt(i);
                }
            }
        }

        /// <summary>With no reclaim, a charge that does not wait is granted when no level of its path has a waiter and it fits above the slow-path floor everywhere.</summary>
        private bool Fits(int b, long bytes, Func<Node, long> floor, bool heldBack = true)
        {
            for (int i = b; i >= 0; i = tree[i].Parent)
            {
                if ((heldBack && budgets[i].Queue.Count != 0) || budgets[i].Committed + bytes > tree[i].Capacity - floor(tree[i]))
                {
                    return false;
                }
            }

            return true;
        }

        private bool Admissible(int b, long bytes)
        {
            for (int i = b; i >= 0; i = tree[i].Parent)
            {
                if (bytes > tree[i].Capacity - tree[i].Min)
                {
                    return false;
                }
            }

            return true;
        }

        private bool Grantable(int b, long bytes)
        {
            for (int i = b; i >= 0; i = tree[i].Parent)
            {
                if (bytes > tree[i].Capacity - tree[i].Min)
                {
                    return false;
                }
            }

            return true;
        }

        private static Func<Node, long> SlowFloor(AllocationMode mode, AllocationPriority priority) => priority switch
        {
            AllocationPriority.Normal => n => n.Min,
            _ when mode == AllocationMode.NoWait => n => n.Min * 3 / 8,
            _ => n => n.Min / 2,
        };

        private long SubtreeHeld(int root)
        {
            long sum = 0;
            for (int i = 0; i < tree.Length; i++)
            {
                for (int j = i; j >= 0; j = tree[j].Parent)
                {
                    if (j == root)
                    {
                        sum += _held[i].Sum();
                        break;
                    }
                }
            }

            return sum;
        }

        private long SubtreeReserved(int root)
        {
            long sum = 0;
            foreach (Held held in _reservations)
            {
                for (int j = held.Budget; j >= 0; j = tree[j].Parent)
                {
                    if (j == root)
                    {
                        sum += held.Remaining;
                        break;
                    }
                }
            }

            return sum;
        }

        private long[] Used() => [.. budgets.Select(x => x.Committed)];
    }
}
