using System.Buffers;
using Headroom.Arena;

namespace Headroom.Pools;

/// <summary>
/// A <see cref="MemoryPool{T}"/> bound to a reservation (<see cref="MemoryBudget.AsMemoryPool(MemoryReservation, AllocationMode)"/>):
/// Chinner's design applied to Pipelines. A rent draws from the reservation; a returned buffer stays with the pool,
/// still charged, and serves its next rent. So what the pool has charged is at most the most it ever had out at once,
/// and while that stays within the reservation (a pipe's back-pressure keeps it there) every rent falls within G1:
/// granted at once, never blocking, never failing. Disposing the pool gives its kept buffers back.
/// </summary>
internal sealed class ReservedMemoryPool : MemoryPool<byte>, IBufferHome
{
    private readonly MemoryReservation _reservation;
    private readonly AllocationMode _mode;
    private readonly Stack<nint>[] _kept = new Stack<nint>[SizeClasses.Count]; // guarded by _guard
    private bool _disposed; // guarded by _guard

    // The guard of the kept stacks. Its sections are a push or a pop (disposal's a few more), never a wait or a call
    // out, so a thread that finds it taken spins: a Lock costs two locked instructions per section (its enter and its
    // exit); a SpinLock without owner tracking enters with one and leaves with a plain release store, and every rent
    // and every return of the pool passes it once.
    private SpinLock _guard = new(enableThreadOwnerTracking: false);

    internal ReservedMemoryPool(MemoryReservation reservation, AllocationMode mode)
    {
        _reservation = reservation;
        _mode = mode;
        for (int cls = 0; cls < _kept.Length; cls++)
        {
            _kept[cls] = new Stack<nint>();
        }
    }

    public override int MaxBufferSize => int.MaxValue;

    private MemoryBudget Budget => _reservation.Budget;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        int size = BudgetMemoryPool.PoolSize(minBufferSize, Budget);
        (int cls, long footprint) = Budget.Fit(size);
        int length = cls == SizeClasses.Direct ? size : (int)footprint;
        Enter();
        bool disposed = _disposed;
        nint kept = 0;
        bool popped = !disposed && cls != SizeClasses.Direct && _kept[cls].TryPop(out kept);
        Exit();
        if (disposed)
        {
            BudgetMemoryPool.ThrowDisposed(Budget);
        }

        if (popped)
        {
            return new ArenaBuffer(this, Budget, kept, cls, footprint, length, consumer: null); // charged already
        }

        _reservation.Charge(footprint, _mode); // within the reservation: at once; the excess as the pool's mode says
        return Budget.Issue(this, Budget.Arena, cls, footprint, length, consumer: null);
    }

    public void Return(nint buffer, int cls, long footprint, MemoryBudget budget, MemoryConsumer? consumer)
    {
        bool kept;
        Enter();
        try
        {
            kept = !_disposed && cls != SizeClasses.Direct;
            if (kept)
            {
                _kept[cls].Push(buffer); // may grow the stack: an allocation inside the section, rarely, never a wait
            }
        }
        finally
        {
            Exit();
        }

        if (kept)
        {
            return;
        }

        budget.Arena.Return(buffer, cls, footprint, budget, consumer);
    }

    /// <summary>Gives the kept buffers back to the arena (uncharging them); buffers still out go there when disposed. Later rents throw.</summary>
    protected override void Dispose(bool disposing)
    {
        var kept = new List<(nint Buffer, int Class)>();
        bool already;
        Enter();
        try
        {
            already = _disposed;
            _disposed = true;
            for (int cls = 0; cls < _kept.Length && !already; cls++)
            {
                while (_kept[cls].TryPop(out nint buffer))
                {
                    kept.Add((buffer, cls));
                }
            }
        }
        finally
        {
            Exit();
        }

        if (already)
        {
            return;
        }

        foreach ((nint buffer, int cls) in kept)
        {
            Budget.Arena.Return(buffer, cls, SizeClasses.Footprint(cls), Budget, consumer: null);
        }
    }

    private void Enter()
    {
        bool taken = false;
        _guard.Enter(ref taken);
    }

    private void Exit() => _guard.Exit(useMemoryBarrier: false); // the release store publishes the section's writes to the next one in
}
