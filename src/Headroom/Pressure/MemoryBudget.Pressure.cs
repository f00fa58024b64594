using Headroom.Waiting;
namespace Headroom;

/// <summary>Pressure stall information (issue 13): who stalls, counted per level as the waiters park and leave.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>Stalled waiters per consumer, and the consumers counted as registered; kept at the root, guarded by the tree's lock.</summary>
    private Dictionary<MemoryConsumer, int>? _stalledConsumers;
    private HashSet<MemoryConsumer>? _countedConsumers;

    /// <summary>
    /// Gets this budget's pressure stall information, as Linux's PSI defines it: the share of time in which some of its
    /// charges were stalled waiting for memory, and in which all its registered consumers were, averaged over 10, 60 and
    /// 300 seconds, with triggers (<see cref="MemoryPressure.AddTrigger(StallKind, TimeSpan, TimeSpan, Action{PressureEvent})"/>).
    /// </summary>
    public MemoryPressure Pressure { get; }

    private MemoryBudget Root
    {
        get
        {
            MemoryBudget root = this;
            while (root.Parent is not null)
            {
                root = root.Parent;
            }

            return root;
        }
    }

    /// <summary>A waiter parked: it stalls at its budget and every ancestor, and its consumer (if any) stalls. Caller holds the tree's lock.</summary>
    internal static void Stalled(Waiter waiter) => Count(waiter, +1);

    /// <summary>A waiter left (granted, cancelled or failed): its stall ends. Caller holds the tree's lock.</summary>
    internal static void StallEnded(Waiter waiter) => Count(waiter, -1);

    /// <summary>A consumer was registered on this budget: "full" is measured over it here and at every ancestor.</summary>
    internal void ConsumerRegistered(MemoryConsumer consumer) => CountConsumer(consumer, registered: true);

    /// <summary>A consumer was disposed: it no longer counts, stalled or not.</summary>
    internal void ConsumerUnregistered(MemoryConsumer consumer) => CountConsumer(consumer, registered: false);

    /// <summary>A charge of this budget begins a direct-reclaim pass loop: "some" stalls here and at every ancestor until it ends. No lock needed.</summary>
    internal void DirectReclaimBegins() => CountReclaiming(+1);

    /// <summary><see cref="DirectReclaimBegins"/>, returning true, for the pass loops' "stalled once" flag.</summary>
    internal bool BeginReclaimStall()
    {
        DirectReclaimBegins();
        return true;
    }

    /// <summary>The charge's direct reclaim ended (granted, refused, or on to the wait).</summary>
    internal void DirectReclaimEnds() => CountReclaiming(-1);

    private void CountReclaiming(int delta)
    {
        long now = Tree.TimeProvider.GetTimestamp();
        for (MemoryBudget? level = this; level is not null; level = level.Parent)
        {
            Interlocked.Add(ref level.Pressure.ReclaimingCount, delta);
            level.Pressure.Refresh(now);
        }
    }

    private static void Count(Waiter waiter, int delta)
    {
        MemoryBudget budget = waiter.Budget;
        LockOrder.Held(budget.Tree.Sync);
        long now = budget.Tree.TimeProvider.GetTimestamp();
        for (MemoryBudget? level = budget; level is not null; level = level.Parent)
        {
            level.Pressure.StalledWaiterCount += delta;
        }

        // A consumer stalls with its first parked charge and stops with its last, at the levels it is registered under.
        MemoryBudget root = budget.Root;
        if (waiter.Owner is { } consumer && root._countedConsumers?.Contains(consumer) == true)
        {
            Dictionary<MemoryConsumer, int> stalls = root._stalledConsumers ??= [];
            int before = stalls.GetValueOrDefault(consumer);
            int after = before + delta;
            if (after == 0)
            {
                stalls.Remove(consumer);
            }
            else
            {
                stalls[consumer] = after;
            }

            if ((before == 0) != (after == 0))
            {
                AddUp(consumer.Budget, static (p, d) => p.StalledConsumerCount += d, after == 0 ? -1 : 1, now);
            }
        }

        for (MemoryBudget? level = budget; level is not null; level = level.Parent)
        {
            level.Pressure.Refresh(now);
        }
    }

    /// <summary>The consumer's parked charges now (for the snapshot). Caller holds the tree's lock.</summary>
    internal int StalledCharges(MemoryConsumer consumer) => Root._stalledConsumers?.GetValueOrDefault(consumer) ?? 0;

    /// <summary>The consumers registered in this tree, as counted for pressure. Caller holds the tree's lock.</summary>
    internal MemoryConsumer[] CountedConsumers() => Root._countedConsumers is { } counted ? [.. counted] : [];

    private void CountConsumer(MemoryConsumer consumer, bool registered)
    {
        lock (Tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Tree.Sync);
            MemoryBudget root = Root;
            HashSet<MemoryConsumer> counted = root._countedConsumers ??= [];
            if (registered ? consumer.IsDisposed || !counted.Add(consumer) : !counted.Remove(consumer))
            {
                return; // disposed before it was counted, or already uncounted: nothing changes
            }

            long now = Tree.TimeProvider.GetTimestamp();
            if (!registered && root._stalledConsumers?.Remove(consumer) == true)
            {
                AddUp(this, static (p, d) => p.StalledConsumerCount += d, -1, now);
            }

            AddUp(this, static (p, d) => p.ConsumerCount += d, registered ? 1 : -1, now);
        }
    }

    /// <summary>Applies <paramref name="change"/> at <paramref name="from"/> and every ancestor, then lets each level's states follow.</summary>
    private static void AddUp(MemoryBudget from, Action<MemoryPressure, int> change, int delta, long now)
    {
        for (MemoryBudget? level = from; level is not null; level = level.Parent)
        {
            change(level.Pressure, delta);
            level.Pressure.Refresh(now);
        }
    }
}
