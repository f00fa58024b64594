using System.Buffers;
using Headroom.Pools;

namespace Headroom;

/// <summary>The budget as a <see cref="MemoryPool{T}"/> for System.IO.Pipelines (semantics §9).</summary>
public sealed partial class MemoryBudget
{
    /// <summary>
    /// Gets a <see cref="MemoryPool{T}"/> whose buffers are rented from this budget. Its
    /// <see cref="MemoryPool{T}.MaxBufferSize"/> is <see cref="int.MaxValue"/>, so a <c>Pipe</c> built with it never
    /// falls back to <see cref="ArrayPool{T}.Shared"/> (which it does, silently, for a request above that size) and
    /// stays inside the budget. A rent hands out the whole size class (its length may exceed the request).
    /// </summary>
    /// <param name="mode">
    /// <see cref="MemoryPool{T}.Rent"/> is synchronous (a pipe calls it from <c>GetMemory</c>), so it cannot wait
    /// asynchronously. Choose:
    /// <list type="bullet">
    /// <item>fail fast, <see cref="AllocationMode.NoWait"/> or <see cref="AllocationMode.MayFail"/> (the default: one
    /// direct-reclaim pass): <c>GetMemory</c> throws <see cref="MemoryAllocationException"/> when there is no room;</item>
    /// <item>block, <see cref="AllocationMode.RetryMayFail"/> or <see cref="AllocationMode.NoFail"/>: the writing thread
    /// blocks until memory comes back, for synchronous code only;</item>
    /// <item>the one recommended for pipes: <see cref="AsMemoryPool(MemoryReservation, AllocationMode)"/>.</item>
    /// </list>
    /// </param>
    /// <returns>The pool. Disposing it makes later rents throw <see cref="ObjectDisposedException"/>; buffers already out stay valid.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mode"/> is not defined.</exception>
    public MemoryPool<byte> AsMemoryPool(AllocationMode mode = AllocationMode.MayFail)
    {
        Validate(1, mode, AllocationPriority.Normal);
        return new BudgetMemoryPool(this, mode);
    }

    /// <summary>
    /// Gets a <see cref="MemoryPool{T}"/> bound to <paramref name="reservation"/> (Chinner's design, applied to
    /// Pipelines): a connection reserves its pipe's <c>PauseWriterThreshold</c> plus one segment once, asynchronously,
    /// when it starts; every rent then draws from the reservation and never blocks. A returned buffer stays with the
    /// pool, still charged, for its next rent, so the pool never holds more than the most it had out at once, and the
    /// pipe's back-pressure keeps that within the reservation (guarantee G1). Dispose the pool, then the reservation.
    /// </summary>
    /// <param name="reservation">A live reservation of this budget.</param>
    /// <param name="mode">What a rent does with an excess above the reservation's remaining bytes; fails fast by default.</param>
    /// <returns>The pool; disposing it gives its kept buffers back to the budget.</returns>
    /// <exception cref="ArgumentException"><paramref name="reservation"/> belongs to another budget.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mode"/> is not defined.</exception>
    /// <exception cref="ObjectDisposedException">The reservation or the budget was disposed.</exception>
    public MemoryPool<byte> AsMemoryPool(MemoryReservation reservation, AllocationMode mode = AllocationMode.NoWait)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        Validate(1, mode, AllocationPriority.Normal);
        if (reservation.Budget != this)
        {
            throw new ArgumentException($"The reservation belongs to budget '{reservation.Budget.Name}', not to '{Name}'; bind a pool to a reservation of its own budget.", nameof(reservation));
        }

        reservation.ThrowIfDisposed(); // names the reservation's budget, not only its type
        return new ReservedMemoryPool(reservation, mode);
    }
}
