using Headroom.Accounting;
using System.Diagnostics;

namespace Headroom.Stocks;

/// <summary>
/// The stocks of one budget tree, and the drain that gives their bytes back before the tree refuses, queues, reclaims
/// or kills for a charge (semantics §1: batching never causes an outcome that exact accounting would not).
/// </summary>
/// <remarks>
/// <para><b>Open and closed.</b> Stocking is open while <see cref="_closed"/> is 0. It counts the slow paths deciding
/// now (each holds a <see cref="StockSuspension"/> from before its first refusal until it has its outcome) and the
/// waiters parked in the tree: while anyone waits, no charge takes from a stock past them (FIFO) and no uncharge goes
/// into a stock instead of to them. Every owner section checks it first and, closed, touches nothing.</para>
/// <para><b>The protocol.</b> An owner's section is: (a) store busy = 1; (b) load closed; if open, (c) plain loads and
/// stores of the stock's bytes and state; (d) release-store busy = 0. A drainer: (e) interlocked increment of closed
/// (a full fence); (f) <see cref="Interlocked.MemoryBarrierProcessWide"/>; (g) for each registered stock, acquire-load
/// busy until it reads 0; (h) take the bytes. The barrier (membarrier / FlushProcessWriteBuffers) runs a full fence
/// on every thread at some point F of its instruction stream while (f) runs. For an owner section: if (a) comes before
/// F, its store is visible by the end of (f), so (g) reads 1 until (d), and (d)'s release makes (c)'s stores visible to
/// (h); if (a) comes after F, so does (b), which then reads closed ≠ 0, and the section does nothing. No section
/// touches a stock while a drainer takes from it, yet the owner pays no fence: (a) and (d) are plain stores on x64
/// (on Arm64 a store-release, ordered before the load-acquire of (b) in hardware). The only requirement on the owner
/// is that (a) is emitted before (b), which volatile accesses keep. A stock registered after (e) is no hazard: its
/// registration's interlocked exchange and (e) are ordered, so either (g) sees it or its owner's (b) reads closed.</para>
/// <para>The barrier costs microseconds, so a drain with no stock registered skips it, and owners do not register
/// while stocking is closed or memory is short. A drain never runs under the tree's lock: it returns bytes, which wakes
/// waiters, which takes that lock.</para>
/// </remarks>
internal sealed class StockDrain
{
    private readonly object _sync = new();

    /// <summary>Stocks bound at or below each level, to keep the count within <see cref="StockBounds.MaxStocks"/>. Guarded by <see cref="_sync"/>.</summary>
    private readonly Dictionary<MemoryBudget, int> _boundAt = [];

    /// <summary>The registered stocks; replaced whole (under <see cref="_sync"/>), read lock-free.</summary>
    private Stock[] _stocks = [];

    /// <summary>Slow paths deciding plus waiters parked: stocking is open only at 0.</summary>
    private int _closed;

    /// <summary>Gets whether owners may use their stocks now (an acquire load).</summary>
    internal bool IsOpen => Volatile.Read(ref _closed) == 0;

    /// <summary>Gets whether any stock is registered.</summary>
    internal bool Any => Volatile.Read(ref _stocks).Length != 0;

    /// <summary>The bytes stocked at <paramref name="level"/> or below; read without the protocol, so it may lag.</summary>
    internal long Within(MemoryBudget level)
    {
        Stock[] stocks = Volatile.Read(ref _stocks);
        long sum = 0;
        foreach (Stock stock in stocks)
        {
            if (stock.Budget is { } budget && budget.IsWithin(level))
            {
                sum += stock.Held;
            }
        }

        return sum;
    }

    /// <summary>Closes stocking and drains every stock; the caller holds the suspension until its slow path decides.</summary>
    internal StockSuspension Suspend()
    {
        Interlocked.Increment(ref _closed);
        return new StockSuspension(this, Any && DrainClosed());
    }

    /// <summary>Drains every stock now and reopens stocking (tests, disposal, uncharges that may exceed Used).</summary>
    internal void Drain()
    {
        using StockSuspension _ = Suspend();
    }

    /// <summary>A waiter parked in the tree: stocking stays closed until it leaves. Caller holds the tree's lock.</summary>
    internal void OnParked() => Interlocked.Increment(ref _closed);

    /// <summary>A parked waiter left the tree (granted, cancelled or failed).</summary>
    internal void OnLeft() => Interlocked.Decrement(ref _closed);

    internal void Reopen() => Interlocked.Decrement(ref _closed);

    /// <summary>Registers <paramref name="stock"/> for <paramref name="budget"/> if stocking is open and the bounds allow one more at every level.</summary>
    internal bool TryRegister(Stock stock, MemoryBudget budget)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            if (!IsOpen)
            {
                return false;
            }

            for (MemoryBudget? level = budget; level is not null; level = level.Parent)
            {
                if (_boundAt.GetValueOrDefault(level) >= StockBounds.MaxStocks(level.Capacity))
                {
                    return false;
                }
            }

            for (MemoryBudget? level = budget; level is not null; level = level.Parent)
            {
                _boundAt[level] = _boundAt.GetValueOrDefault(level) + 1;
            }

            stock.Bind(budget, this);
            Interlocked.Exchange(ref _stocks, [.. _stocks, stock]); // a full fence: see the protocol
            return true;
        }
    }

    /// <summary>Unregisters <paramref name="stock"/> if it still is, leaving it in <paramref name="state"/>; returns the bytes it still held.</summary>
    internal long Unregister(Stock stock, StockState state)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            if (stock.State != StockState.Active)
            {
                return 0; // a drainer or the owner got there first
            }

            long bytes = stock.Revoke(state);
            for (MemoryBudget? level = stock.Budget; level is not null; level = level.Parent)
            {
                int left = _boundAt[level] - 1;
                if (left == 0)
                {
                    _boundAt.Remove(level);
                }
                else
                {
                    _boundAt[level] = left;
                }
            }

            Interlocked.Exchange(ref _stocks, [.. _stocks.Where(s => s != stock)]);
            return bytes;
        }
    }

    /// <summary>Steps (f) to (h) of the protocol, stocking closed by the caller. True when it drained anything.</summary>
    private bool DrainClosed()
    {
        Interlocked.MemoryBarrierProcessWide();
        bool drained = false;
        foreach (Stock stock in Volatile.Read(ref _stocks))
        {
            stock.WaitIdle();
            MemoryBudget? budget = stock.Budget;
            ReleasesInFlight? releases = budget?.Tree.Releases;
            releases?.Begin(); // the stock drops before Committed: a reading of Used must see both or neither
            long bytes = Unregister(stock, StockState.Drained);
            if (bytes > 0)
            {
                Debug.Assert(budget is not null, "a stock holding bytes is bound");
                budget.EndRelease(bytes, context: null);
                budget.ObserveStockDrained(bytes);
            }
            else
            {
                releases?.End();
            }

            drained = true;
        }

        return drained;
    }
}
