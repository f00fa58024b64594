using System.Diagnostics;
using Headroom.Reclaim;

namespace Headroom;

/// <summary>
/// A unit of work the OOM killer may cancel instead of losing the process (semantics §7). Charges, reservations and
/// uncharges made on a flow inside <see cref="Enter"/> count as this consumer's. Register one with
/// <see cref="MemoryBudget.RegisterConsumer(string, CancellationTokenSource, int)"/>.
/// </summary>
[DebuggerDisplay("{Name,nq}: charged {Charged}, reserved {Reserved}, adj {OomScoreAdj}")]
public sealed class MemoryConsumer : IDisposable
{
    private readonly CancellationTokenSource? _cancellation;
    private readonly Action? _kill;
    private readonly List<MemoryReservation> _reservations = [];
    private readonly List<Shrinker> _reapable = [];
    private long _charged;
    private int _killed;
    private int _disposed;
    private Task _killing = Task.CompletedTask;

    internal MemoryConsumer(MemoryBudget budget, string name, int oomScoreAdj, CancellationTokenSource? cancellation, Action? kill, long order)
    {
        Budget = budget;
        Name = name;
        OomScoreAdj = oomScoreAdj;
        _cancellation = cancellation;
        _kill = kill;
        Order = order;
    }

    /// <summary>The lowest adjustment: a consumer with it is never chosen.</summary>
    public const int NeverKill = -1000;

    /// <summary>Gets the consumer's name.</summary>
    public string Name { get; }

    /// <summary>Gets the budget the consumer is registered on; it is a candidate when that budget's subtree is out of memory.</summary>
    public MemoryBudget Budget { get; }

    /// <summary>Gets the adjustment added to its badness, in thousandths of the short budget's capacity: −1000 (never) to 1000.</summary>
    public int OomScoreAdj { get; }

    /// <summary>Gets the bytes charged on its flows, net of the bytes uncharged on them.</summary>
    public long Charged => Interlocked.Read(ref _charged);

    /// <summary>Gets the bytes its live reservations still hold: reapable without its cooperation.</summary>
    public long Reserved
    {
        get
        {
            lock (_reservations)
            {
                LockOrder.Entered(LockLevel.Leaf, _reservations);
                return _reservations.Sum(r => r.Remaining);
            }
        }
    }

    /// <summary>Gets whether the OOM killer chose it.</summary>
    public bool IsKilled => Volatile.Read(ref _killed) != 0;

    /// <summary>Gets whether it was disposed (unregistered).</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    private void ThrowIfDisposed()
    {
        if (IsDisposed)
        {
            throw new ObjectDisposedException(Name, $"Consumer '{Name}' of budget '{Budget.Name}' was disposed.");
        }
    }

    /// <summary>Registration order, for the newest-first policy.</summary>
    internal long Order { get; }

    /// <summary>Set when the killer gave up on it after the kill timeout: never chosen again.</summary>
    internal bool GivenUp { get; set; }

    /// <summary>Opens a scope: charges, reservations and uncharges on this flow count as this consumer's.</summary>
    /// <returns>The scope; dispose it to restore the context that was current before.</returns>
    /// <exception cref="ObjectDisposedException">The consumer was disposed.</exception>
    public AllocationScope Enter()
    {
        ThrowIfDisposed();
        return new AllocationScope(AllocationContext.WithConsumer(this));
    }

    /// <summary>
    /// Registers memory the OOM reaper may release without the consumer's cooperation once it is killed (a cache of
    /// its own). Its reservations are always reapable.
    /// </summary>
    /// <param name="reapable">
    /// Frees the consumer's reapable memory; asked for everything when the consumer is killed, on the OOM reaper's own
    /// worker (never the allocating thread), with the timeout and fault isolation of a registered reclaimer: a call that
    /// throws is logged, and one that runs past the kill timeout (at most 5 seconds) is abandoned.
    /// </param>
    /// <returns>A registration; disposing it withdraws the memory from the reaper.</returns>
    public IDisposable RegisterReapable(IMemoryReclaimer reapable)
    {
        ArgumentNullException.ThrowIfNull(reapable);
        ThrowIfDisposed();
        BudgetTree tree = Budget.Tree;
        var shrinker = new Shrinker(Budget, new ReclaimerCall(reapable), tree.Oom.ReaperOptions, order: 0, tree.TimeProvider, tree.Logger);
        lock (_reapable)
        {
            LockOrder.Entered(LockLevel.Leaf, _reapable);
            _reapable.Add(shrinker);
        }

        return new Withdrawal(this, shrinker);
    }

    /// <summary>Unregisters the consumer. What it still has charged stays charged, and is reported.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Budget.Tree.Oom.Unregister(this);
            Budget.ConsumerUnregistered(this);
        }
    }

    /// <summary>Counts a grant (positive) or an uncharge (negative) on one of its flows; a victim that has given everything back is done.</summary>
    internal void Attribute(long bytes)
    {
        if (Interlocked.Add(ref _charged, bytes) <= 0 && bytes < 0 && IsKilled)
        {
            Budget.Tree.Oom.Released(this);
        }
    }

    /// <summary>A charge outcome on its flow, attributed when (and if) it is granted.</summary>
    internal ChargeOutcome Attribute(ChargeOutcome outcome, long bytes)
    {
        if (outcome.RefusedBy is not null)
        {
            return outcome;
        }

        if (outcome.Wait is null)
        {
            Attribute(bytes);
            return outcome;
        }

        return new ChargeOutcome(null, AttributeAfterAsync(outcome.Wait, bytes));
    }

    internal void Adopt(MemoryReservation reservation)
    {
        lock (_reservations)
        {
            LockOrder.Entered(LockLevel.Leaf, _reservations);
            _reservations.RemoveAll(r => r.IsDisposed);
            _reservations.Add(reservation);
            reservation.Owner = this;
        }
    }

    /// <summary>Marks it killed; false when it already was.</summary>
    internal bool MarkKilled() => Interlocked.Exchange(ref _killed, 1) == 0;

    /// <summary>The asynchronous part of its kill (cancellation signalled, reapable memory reaped); completed before any kill.</summary>
    internal Task Killing
    {
        get => Volatile.Read(ref _killing);
        set => Volatile.Write(ref _killing, value);
    }

    /// <summary>Kill = cancel (semantics §7.3): the victim's own code (its token's callbacks, its kill action). Run by the reaper, never by the allocator.</summary>
    internal void Signal()
    {
        _cancellation?.Cancel();
        _kill?.Invoke();
    }

    /// <summary>The OOM reaper's inline part: releases its unconsumed reservations, which runs no user code.</summary>
    internal void ReapReservations()
    {
        MemoryReservation[] reservations;
        lock (_reservations)
        {
            LockOrder.Entered(LockLevel.Leaf, _reservations);
            reservations = [.. _reservations];
            _reservations.Clear();
        }

        foreach (MemoryReservation reservation in reservations)
        {
            reservation.Dispose();
        }
    }

    /// <summary>Its reapable memory, as reclaimers with their timeout and isolation.</summary>
    internal Shrinker[] Reapables()
    {
        lock (_reapable)
        {
            LockOrder.Entered(LockLevel.Leaf, _reapable);
            return [.. _reapable];
        }
    }

    private async Task AttributeAfterAsync(Task wait, long bytes)
    {
        await wait.ConfigureAwait(false);
        Attribute(bytes);
    }

    private sealed class Withdrawal(MemoryConsumer consumer, Shrinker reapable) : IDisposable
    {
        public void Dispose()
        {
            lock (consumer._reapable)
            {
                LockOrder.Entered(LockLevel.Leaf, consumer._reapable);
                consumer._reapable.Remove(reapable);
            }
        }
    }
}
