using System.Buffers;
using Headroom.Arena;

namespace Headroom.Pools;

/// <summary>
/// A <see cref="MemoryPool{T}"/> bound to a reservation (<see cref="MemoryBudget.AsMemoryPool(MemoryReservation, AllocationMode)"/>):
/// Chinner's design applied to Pipelines. A rent draws from the reservation; a returned buffer stays with the pool,
/// still charged, in its core's share, and serves the next rent on any core. So what the pool has charged is at most the
/// most it ever had out at once (plus one buffer for each rent that found every share empty while a return on another
/// core was filling one), and while that stays within the reservation (a pipe's back-pressure keeps it there) every
/// rent falls within G1: granted at once, never blocking, never failing. Disposing the pool gives its kept buffers back.
/// </summary>
internal sealed class ReservedMemoryPool : MemoryPool<byte>, IBufferHome
{
    private readonly MemoryReservation _reservation;
    private readonly AllocationMode _mode;
    // One slot per core (at most 64), each filled by the first return on that core: a pool per connection, used from a
    // core or two, makes a share or two, not one per core of the machine. A rent takes from its core's first, then the others'.
    private readonly KeptBuffers?[] _shares;
    private volatile bool _disposed; // set before the shares close: a direct rent, which keeps nothing, reads it alone

    internal ReservedMemoryPool(MemoryReservation reservation, AllocationMode mode)
    {
        _reservation = reservation;
        _mode = mode;
        _shares = new KeptBuffers?[Math.Min(Environment.ProcessorCount, 64)];
    }

    public override int MaxBufferSize => int.MaxValue;

    private MemoryBudget Budget => _reservation.Budget;

    /// <summary>This core's share: cores change under a thread, so this is where it most likely finds its own last return.</summary>
    private int Home => _shares.Length == 1 ? 0 : Thread.GetCurrentProcessorId() % _shares.Length;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        int size = BudgetMemoryPool.PoolSize(minBufferSize, Budget);
        (int cls, long footprint) = Budget.Fit(size);
        int length = cls == SizeClasses.Direct ? size : (int)footprint;
        if (cls != SizeClasses.Direct)
        {
            int home = Home;
            for (int i = 0; i < _shares.Length; i++)
            {
                KeptBuffers? share = Volatile.Read(ref _shares[(home + i) % _shares.Length]);
                if (share is null)
                {
                    continue; // no return on that core yet
                }

                bool? popped = share.TryPop(cls, out nint kept);
                if (popped is null)
                {
                    BudgetMemoryPool.ThrowDisposed(Budget); // a closed share: the pool was disposed
                }

                if (popped == true)
                {
                    return new ArenaBuffer(this, Budget, kept, cls, footprint, length, consumer: null); // charged already
                }
            }
        }

        if (_disposed)
        {
            BudgetMemoryPool.ThrowDisposed(Budget);
        }

        _reservation.Charge(footprint, _mode); // within the reservation: at once; the excess as the pool's mode says
        return Budget.Issue(this, Budget.Arena, cls, footprint, length, consumer: null);
    }

    public void Return(nint buffer, int cls, long footprint, MemoryBudget budget, MemoryConsumer? consumer)
    {
        if (cls != SizeClasses.Direct && Share(Home).TryPush(cls, buffer))
        {
            return;
        }

        budget.Arena.Return(buffer, cls, footprint, budget, consumer); // direct, or the pool was disposed
    }

    /// <summary>The share of slot <paramref name="slot"/>, made by this thread if there is none yet.</summary>
    private KeptBuffers Share(int slot) =>
        Volatile.Read(ref _shares[slot]) ?? Interlocked.CompareExchange(ref _shares[slot], new KeptBuffers(), null) ?? _shares[slot]!;

    /// <summary>Gives the kept buffers back to the arena (uncharging them); buffers still out go there when disposed. Later rents throw.</summary>
    protected override void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var kept = new List<(nint Buffer, int Class)>();
        for (int i = 0; i < _shares.Length; i++)
        {
            // An empty slot gets the closed share, so that a return racing this one cannot make an open share after it.
            (Interlocked.CompareExchange(ref _shares[i], KeptBuffers.Closed, null) ?? KeptBuffers.Closed).Close(kept); // a second disposal finds them closed and empty
        }

        foreach ((nint buffer, int cls) in kept)
        {
            Budget.Arena.Return(buffer, cls, SizeClasses.Footprint(cls), Budget, consumer: null);
        }
    }
}
