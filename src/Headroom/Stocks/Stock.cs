using Headroom.Accounting;
using System.Runtime.CompilerServices;

namespace Headroom.Stocks;

/// <summary>
/// A thread's stock (Linux's per-CPU <c>memcg_stock</c>): bytes already added to Committed at one budget and every
/// ancestor but not yet handed out. Charges of that budget are served from it and uncharges go back into it, up to its
/// batch, without touching a shared counter. The owner thread reads and writes it with plain loads and stores inside
/// a section it marks <see cref="_busy"/>; another thread takes its bytes back only under the protocol of
/// <see cref="StockDrain"/>.
/// </summary>
internal sealed class Stock
{
    /// <summary>The budget the stock is bound to; written by the owner only while the stock is not registered.</summary>
    private MemoryBudget? _budget;

    /// <summary>The registry of <see cref="_budget"/>'s tree; set with it.</summary>
    private StockDrain? _drain;

    /// <summary>The most the stock holds: its budget's batch.</summary>
    private long _batch;

    /// <summary>The bytes held. Owner only, inside a busy section; a drainer only once the protocol lets it.</summary>
    private long _bytes;

    /// <summary>1 while the owner is inside a section that reads or writes <see cref="_bytes"/> or <see cref="_state"/>.</summary>
    private int _busy;

    /// <summary>Changed under the registry's lock; the owner reads it inside its busy sections.</summary>
    private StockState _state;

    internal MemoryBudget? Budget => _budget;

    internal StockState State => _state;

    /// <summary>The bytes held, read from another thread without the protocol: exact at quiescence, else it may lag.</summary>
    internal long Held => Volatile.Read(ref _bytes);

    /// <summary>Serves a charge of <paramref name="bytes"/> at <paramref name="budget"/> from this thread's stock, refilling it if need be.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryCharge(MemoryBudget budget, long bytes)
    {
        Stock? stock = PerThread.Current?.Stock; // one thread-static read for the stock (the flow's context has its own)
        if (stock is not null && stock._budget == budget && stock.TryTake(bytes))
        {
            return true;
        }

        return bytes <= StockBounds.Batch(budget.Capacity) && TryRefill(budget, bytes);
    }

    /// <summary>Takes an uncharge of <paramref name="bytes"/> at <paramref name="budget"/> into this thread's stock, up to its batch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryUncharge(MemoryBudget budget, long bytes)
    {
        PerThread? thread = PerThread.Current;
        Stock? stock = thread?.Stock;
        return stock is not null && stock._budget == budget && stock.TryGive(bytes, AllocationContext.Current);
    }

    /// <summary>
    /// A take: granted only while stocking is open in the tree (nobody waits, no slow path decides) and while every
    /// level of the path has Committed ≤ Capacity − Low. Exact accounting would then grant it on its fast path too: its
    /// Committed is lower by at least the bytes this stock holds, which cover the charge.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryTake(long bytes)
    {
        Volatile.Write(ref _busy, 1); // the store a drainer's process-wide barrier makes visible (StockDrain)
        bool taken = false;
        if (_drain!.IsOpen && _state == StockState.Active && bytes <= _bytes && AboveLow(_budget!))
        {
            _bytes -= bytes;
            taken = true;
        }

        Volatile.Write(ref _busy, 0);
        return taken;
    }

    /// <summary>
    /// A give, while stocking is open, up to the batch, for a budget not disposed. Never inside a reclaimer: what it
    /// frees must reach the waiter it reclaims for. An uncharge above Committed less this stock is left to the exact
    /// path, which refuses it (another thread's stock can still hide an over-uncharge; see MemoryBudget.Uncharge).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryGive(long bytes, AllocationContext? context)
    {
        if (context is { Reclaiming: not null })
        {
            return false;
        }

        MemoryBudget budget = _budget!;
        Volatile.Write(ref _busy, 1);
        bool given = false;
        if (_drain!.IsOpen && _state == StockState.Active && _bytes + bytes <= _batch && bytes <= budget.Committed - _bytes && !budget.IsDisposed)
        {
            _bytes += bytes;
            given = true;
        }

        Volatile.Write(ref _busy, 0);
        return given;
    }

    private static bool AboveLow(MemoryBudget budget)
    {
        for (MemoryBudget? level = budget; level is not null; level = level.Parent)
        {
            if (level.Committed > level.Capacity - level.LowWatermark)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The stock could not serve the charge: precharge a full batch plus the charge at the fast-path floor (never
    /// waiting, never reclaiming), binding this thread's stock to <paramref name="budget"/> first if needed. False
    /// when that is refused; the caller then charges exactly, as without stocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryRefill(MemoryBudget budget, long bytes)
    {
        StockDrain drain = budget.Tree.Stocks;
        long batch = StockBounds.Batch(budget.Capacity);
        if (!drain.IsOpen || budget.IsDisposed || !Fits(budget, bytes + batch))
        {
            return false; // memory is short or somebody waits: leave the registry as it is, so that drains stay cheap
        }

        PerThread thread = PerThread.Ensure();
        Stock stock = thread.Stock ??= new Stock();
        if (stock._budget != budget || stock._state != StockState.Active)
        {
            if (!stock.Unbind() || !drain.TryRegister(stock, budget))
            {
                return false;
            }
        }

        MemoryBudget? refusedBy = null;
        bool refilled = false;
        Volatile.Write(ref stock._busy, 1);
        if (drain.IsOpen && stock._state == StockState.Active && !budget.IsDisposed)
        {
            long amount = bytes + stock._batch - stock._bytes;
            refusedBy = budget.TryPrecharge(amount);
            if (refusedBy is null)
            {
                stock._bytes += amount - bytes;
                refilled = true;
            }
        }

        Volatile.Write(ref stock._busy, 0);
        if (refusedBy is not null && refusedBy != budget)
        {
            budget.WakeBelow(refusedBy); // the partial precharge made the levels below look fuller for an instant
        }

        return refilled;
    }

    private static bool Fits(MemoryBudget budget, long amount)
    {
        for (MemoryBudget? level = budget; level is not null; level = level.Parent)
        {
            if (level.Committed + amount > level.Capacity - level.LowWatermark)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Binds the stock for the first time or after a drain (the registry's lock held).</summary>
    internal void Bind(MemoryBudget budget, StockDrain drain)
    {
        _budget = budget;
        _drain = drain;
        _batch = StockBounds.Batch(budget.Capacity);
        _bytes = 0;
        _state = StockState.Active;
    }

    /// <summary>
    /// The owner gives its bytes back before binding to another budget. False when stocking is closed in the stock's
    /// tree: a drainer will take them instead, and the charge goes the exact way meanwhile.
    /// </summary>
    private bool Unbind()
    {
        if (_drain is not { } drain || _state != StockState.Active)
        {
            return true; // never bound, or drained: nothing held
        }

        MemoryBudget budget = _budget!;
        ReleasesInFlight releases = budget.Tree.Releases;
        releases.Begin(); // the stock drops before Committed: a reading of Used must see both or neither
        long bytes = 0;
        bool open;
        Volatile.Write(ref _busy, 1);
        open = drain.IsOpen;
        if (open && _state == StockState.Active)
        {
            bytes = _bytes;
            _bytes = 0;
        }

        Volatile.Write(ref _busy, 0);
        if (!open)
        {
            releases.End();
            return false;
        }

        drain.Unregister(this, StockState.Unbound);
        budget.EndRelease(bytes, context: null);
        return true;
    }

    /// <summary>A drainer waits until the owner leaves its section (a few instructions, no lock and no wait inside).</summary>
    internal void WaitIdle()
    {
        var spin = default(SpinWait);
        while (Volatile.Read(ref _busy) != 0)
        {
            spin.SpinOnce();
        }
    }

    /// <summary>A drainer takes the bytes and ends the binding; the registry's lock held, the owner out of its section.</summary>
    internal long Revoke(StockState state)
    {
        long bytes = _bytes;
        _bytes = 0;
        _state = state; // under the registry's lock; the owner reads it only in sections the protocol orders
        return bytes;
    }
}
