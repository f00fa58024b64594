using System.Diagnostics;
using Headroom.Accounting;
using Headroom.Waiting;
using Headroom.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;

namespace Headroom;

/// <summary>
/// A limit on bytes with watermarks and allocation modes: Headroom's user-space zone / memory cgroup
/// (semantics §1, §2, §3, §8). Charges are lock-free; only a charge that must wait takes a lock.
/// </summary>
/// <remarks>
/// Budgets form a tree: a charge at a child must fit at the child and at every ancestor, and a parent's counters
/// include its children's. Invariant I1 holds at every level at every instant: <c>Used + Reserved + Stocked ≤ Capacity</c>.
/// </remarks>
[DebuggerDisplay("{GetSnapshot(),nq}")]
public sealed partial class MemoryBudget : IDisposable, IAsyncDisposable
{
    private readonly List<MemoryBudget> _children = []; // guarded by Tree.Sync

    private volatile bool _disposed;

    /// <summary>Creates a root budget of <paramref name="capacity"/> bytes with default watermarks.</summary>
    /// <param name="capacity">The limit in bytes; must be positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public MemoryBudget(long capacity)
        : this(new MemoryBudgetOptions { Capacity = PositiveCapacity(capacity) })
    {
    }

    /// <summary>Creates a root budget.</summary>
    /// <param name="options">The settings, validated now.</param>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it and its rule.</exception>
    public MemoryBudget(MemoryBudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Watermarks watermarks = options.Validate();
        BudgetMeter meter = BudgetMeter.For(options.CreateMeter());
        Counter = new BudgetCounter(this, parent: null, options.Capacity, watermarks);
        Name = options.Name;
        Tree = new BudgetTree(options.TimeProvider, options.Logger ?? NullLogger.Instance, options.CanaryInterval, options.Oom, meter);
        Pressure = new MemoryPressure(this, Tree.TimeProvider);
        KeepOomReports();
        _poisonFreedBuffers = options.PoisonFreedBuffers;
        Tree.Meter.Track(this);
    }

    /// <summary>Checked before the options are made, so that the exception names this constructor's parameter rather than an options object the caller never saw.</summary>
    private static long PositiveCapacity(long capacity) => capacity > 0 ? capacity
        : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"A budget's capacity must be positive; it was {capacity}.");

    private MemoryBudget(MemoryBudget parent, ChildBudgetOptions options, Watermarks watermarks)
    {
        Counter = new BudgetCounter(this, parent.Counter, options.Capacity, watermarks);
        Name = options.Name;
        Parent = parent;
        Tree = parent.Tree;
        Pressure = new MemoryPressure(this, Tree.TimeProvider);
    }

    /// <summary>Gets the budget's name.</summary>
    public string Name { get; }

    /// <summary>Gets the parent budget, or <see langword="null"/> for a root.</summary>
    public MemoryBudget? Parent { get; }

    /// <summary>Gets the limit, in bytes.</summary>
    public long Capacity => Counter.Capacity;

    /// <summary>Gets the bytes charged and not yet uncharged, children's included.</summary>
    /// <remarks>
    /// <see cref="Committed"/> less <see cref="Reserved"/>. While no reservation is live at or below this budget it is
    /// one read. Otherwise a read walks the live reservations without a lock, then reads Committed: an admission or a
    /// growth in flight may make it read high, never low; a reading that a disposal or shrink overlapped is read again
    /// (up to 32 times, so that a busy tree cannot starve a reader). It never reads below zero or above Committed. While per-thread stocks hold bytes (see
    /// <see cref="Stocked"/>), charges and uncharges served by them move Used without a shared write, so a reading from
    /// another thread may lag by at most Stocked; at quiescence it is exact.
    /// </remarks>
    public long Used => ReadUsed(out _);

    /// <summary>Gets the bytes promised to live reservations and not yet drawn, children's included.</summary>
    /// <remarks>
    /// The sum of the live reservations' <see cref="MemoryReservation.Remaining"/>: zero at the cost of one read while
    /// none is live at or below this budget (from the first reading after the last was disposed); otherwise a read walks them, so it is not for hot paths, and it is read
    /// together with <see cref="Used"/>, as exactly (see there).
    /// </remarks>
    public long Reserved
    {
        get
        {
            long used = ReadUsed(out long committed, out long stocked);
            return Math.Max(committed - used - stocked, 0);
        }
    }

    /// <summary>Gets <see cref="Used"/> + <see cref="Reserved"/> + <see cref="Stocked"/>: what ordinary charges cannot take.</summary>
    public long Committed => Counter.Committed;

    /// <summary>Gets <see cref="Capacity"/> − <see cref="Used"/>: the bytes not charged, reserved ones included; like Used, it may lag by at most <see cref="Stocked"/>.</summary>
    public long Free => Counter.Capacity - Used;

    /// <summary>Gets <see cref="Capacity"/> − <see cref="Committed"/>: the bytes neither charged, reserved nor stocked, which an ordinary charge may take down to its floor.</summary>
    /// <remarks>One read, unlike <see cref="Free"/> while reservations are live.</remarks>
    public long Available => Counter.Capacity - Counter.Committed;

    /// <summary>Gets the min watermark: free bytes that only urgent callers may take (<see cref="BudgetLevelOptions.MinWatermark"/>).</summary>
    public long MinWatermark => Counter.Watermarks.Min;

    /// <summary>Gets the low watermark: a grant leaving less free wakes background reclaim; the fast path stops here (<see cref="BudgetLevelOptions.LowWatermark"/>).</summary>
    public long LowWatermark => Counter.Watermarks.Low;

    /// <summary>Gets the high watermark: background reclaim works until this much is free (<see cref="BudgetLevelOptions.HighWatermark"/>).</summary>
    public long HighWatermark => Counter.Watermarks.High;

    /// <summary>Gets whether the budget was disposed.</summary>
    public bool IsDisposed => _disposed;

    internal BudgetTree Tree { get; }

    /// <summary>This level's counter: every grant and release of the budget goes through it.</summary>
    internal BudgetCounter Counter { get; }

    /// <summary>The waiters this level refused. Guarded by <see cref="BudgetTree.Sync"/>.</summary>
    internal WaitQueue Queue { get; } = new();

    /// <summary>Reads every counter of this budget.</summary>
    public MemoryBudgetSnapshot GetSnapshot()
    {
        long used = ReadUsed(out long committed, out long stocked);
        return new MemoryBudgetSnapshot(Name, Counter.Capacity, used, Math.Max(committed - used - stocked, 0), Counter.Watermarks.Min, Counter.Watermarks.Low, Counter.Watermarks.High, stocked)
        {
            Parked = Parked,
        };
    }

    /// <summary>Creates a child budget with default watermarks (semantics §8).</summary>
    /// <param name="name">The child's name.</param>
    /// <param name="capacity">The child's limit; positive and not above this budget's capacity.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or white space.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive or exceeds this budget's.</exception>
    /// <exception cref="ObjectDisposedException">This budget was disposed.</exception>
    public MemoryBudget CreateChild(string name, long capacity)
    {
        // Checked here, so that the exception names this method's parameters rather than an options object the caller never saw.
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (capacity <= 0 || capacity > Counter.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity,
                $"A child's capacity must be positive and not exceed its parent's: child '{name}' asked for {capacity} bytes, parent '{Name}' has {Counter.Capacity}.");
        }

        return CreateChild(new ChildBudgetOptions { Name = name, Capacity = capacity });
    }

    /// <summary>
    /// Creates a child budget (semantics §8). The child shares this tree's clock, logger, canary and OOM killer, which
    /// only a root's <see cref="MemoryBudgetOptions"/> set.
    /// </summary>
    /// <param name="options">The child's name, capacity and watermarks, validated now.</param>
    /// <exception cref="ArgumentException">A setting is invalid, or the capacity exceeds this budget's; the message names the setting and its rule.</exception>
    /// <exception cref="ObjectDisposedException">This budget was disposed.</exception>
    public MemoryBudget CreateChild(ChildBudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Watermarks watermarks = options.ValidateLevel();
        if (options.Capacity > Counter.Capacity)
        {
#pragma warning disable CA2208 // an options check names the property's path, as the options' own checks do
            throw new ArgumentOutOfRangeException(nameof(ChildBudgetOptions.Capacity), options.Capacity,
                $"{nameof(ChildBudgetOptions)}.{nameof(ChildBudgetOptions.Capacity)} must not exceed the parent's capacity: child '{options.Name}' asked for {options.Capacity} bytes, parent '{Name}' has {Counter.Capacity}.");
#pragma warning restore CA2208
        }

        lock (Tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Tree.Sync);
            ThrowIfDisposed();
            var child = new MemoryBudget(this, options, watermarks);
            _children.Add(child);
            return child;
        }
    }

    /// <summary>
    /// Disposes the budget and its descendants. Disposing twice is harmless.
    /// </summary>
    /// <remarks>
    /// <list type="bullet">
    /// <item>New charges, leases, reservations, growths, children, consumers and reclaimers on them throw
    /// <see cref="ObjectDisposedException"/>, and so do charges and reservations waiting on them; those they held up
    /// move on.</item>
    /// <item>What is still charged to them stays charged, here and at every ancestor, until it is uncharged:
    /// uncharging, disposing a lease and disposing a reservation stay allowed, so that holders can unwind.</item>
    /// <item>Their reclaimers and consumers stay registered until their registrations are disposed: the memory they
    /// hold still counts at the ancestors, so reclaim for an ancestor still asks those reclaimers, and the OOM killer
    /// of an ancestor may still choose those consumers.</item>
    /// </list>
    /// Disposing a root also ends its background reclaim and kill timer.
    /// </remarks>
    public void Dispose()
    {
        lock (Tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, Tree.Sync);
            if (_disposed)
            {
                return;
            }

            MarkDisposed(this);

            // Fail the waiters of the disposed budgets, wherever in the tree they queue; those they held up move on.
            MemoryBudget root = this;
            while (root.Parent is not null)
            {
                root = root.Parent;
            }

            var failed = new List<Waiter>();
            var levels = new List<MemoryBudget>();
            Collect(root, levels);
            Parent?._children.Remove(this);
            foreach (MemoryBudget level in levels)
            {
                failed.AddRange(level.Queue.RemoveAll(static w => w.Budget._disposed));
            }

            foreach (Waiter waiter in failed)
            {
                Tree.Leave(waiter);
                waiter.Completion.TrySetException(new ObjectDisposedException(waiter.Budget.Name, $"Budget '{waiter.Budget.Name}' was disposed while a charge of {waiter.Bytes} bytes waited on it."));
            }

            foreach (MemoryBudget level in levels)
            {
                Tree.AfterLeaving(level);
            }

            if (Parent is null)
            {
                Tree.Reclaimers.Dispose(); // the background worker and the kill timer end with their root
                Tree.Reservations.Close();
            }
        }

        if (Parent is null)
        {
            Tree.Oom.Dispose(); // after the tree's lock, never under it: the killer's lock comes first (LockOrder)
            CloseArena(); // outside the lock: giving parked memory back uncharges, which may wake waiters
        }

        DrainStocks(); // a disposed budget's stocks take nothing more; a root's hold nothing once it is gone

        static void MarkDisposed(MemoryBudget budget)
        {
            budget._disposed = true;
            foreach (MemoryBudget child in budget._children)
            {
                MarkDisposed(child);
            }
        }

        static void Collect(MemoryBudget budget, List<MemoryBudget> into)
        {
            into.Add(budget);
            foreach (MemoryBudget child in budget._children)
            {
                Collect(child, into);
            }
        }
    }

    /// <summary>
    /// Disposes the budget as <see cref="Dispose"/> does; for a root, the returned task also waits until its background
    /// reclaim worker has ended (a pass in flight finishes its current reclaimer call first).
    /// </summary>
    /// <returns>A task that completes once the budget is disposed and, for a root, its background worker has stopped.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return Parent is null ? new ValueTask(Tree.Reclaimers.Stopped) : ValueTask.CompletedTask;
    }

    /// <summary>True when this budget is <paramref name="ancestor"/> or one of its descendants.</summary>
    internal bool IsWithin(MemoryBudget ancestor)
    {
        for (MemoryBudget? level = this; level is not null; level = level.Parent)
        {
            if (level == ancestor)
            {
                return true;
            }
        }

        return false;
    }
}
