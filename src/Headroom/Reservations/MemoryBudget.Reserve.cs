using Headroom.Accounting;
using Headroom.Waiting;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Headroom;

/// <summary>Reservations' admission (semantics §5): granted when Committed + A ≤ Capacity − Min at every level.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>Reserves <paramref name="bytes"/> if the budget can admit them now, without reclaim and without waiting.</summary>
    /// <param name="bytes">The size; positive and at most Capacity − Min at this budget and every ancestor.</param>
    /// <param name="reservation">The reservation, when admitted.</param>
    /// <param name="mode">How charges inside it use it.</param>
    /// <returns><see langword="true"/> when admitted; <see langword="false"/> with nothing changed.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The size or mode breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public bool TryReserve(long bytes, [NotNullWhen(true)] out MemoryReservation? reservation, ReservationMode mode = ReservationMode.Watermark)
    {
        ValidateReservation(bytes, mode);
        var listed = new MemoryReservation(this, mode);
        Tree.Reservations.Add(listed); // before the admission, counting 0 until it is filled: see AdmitListed
        if (!TryAdmit(bytes))
        {
            listed.Abandon();
            reservation = null;
            return false;
        }

        reservation = listed.AdmitListed(bytes);
        return true;
    }

    /// <summary>
    /// Reserves <paramref name="bytes"/> before a transaction, so that nothing inside it can fail (guarantee G1).
    /// Without room it runs direct reclaim, then waits in FIFO order with the other waiters, holding nothing.
    /// </summary>
    /// <param name="bytes">The size; positive and at most Capacity − Min at this budget and every ancestor.</param>
    /// <param name="mode">How charges inside it use it.</param>
    /// <param name="allowWhileHolding">
    /// Waiting for a reservation while holding another on the same tree is the hold-and-wait deadlock; it is refused
    /// unless this is <see langword="true"/>.
    /// </param>
    /// <param name="cancellationToken">Ends the wait; a cancelled request leaves nothing behind.</param>
    /// <returns>The reservation; completed synchronously when there is room.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The size or mode breaks its rule.</exception>
    /// <exception cref="InvalidOperationException">The flow already holds a reservation on this tree (in an open scope of <see cref="MemoryReservation.Enter"/>).</exception>
    /// <exception cref="OperationCanceledException">Cancelled before it was admitted.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed, before or during the wait.</exception>
    public ValueTask<MemoryReservation> ReserveAsync(long bytes, ReservationMode mode = ReservationMode.Watermark, bool allowWhileHolding = false, CancellationToken cancellationToken = default)
    {
        ValidateReservation(bytes, mode);
        if (!allowWhileHolding && AllocationContext.Current?.Reservation is { IsDisposed: false } held && held.Budget.Tree == Tree)
        {
            throw new InvalidOperationException(
                $"This flow holds a reservation of {held.Amount} bytes on budget '{held.Budget.Name}' and asks to wait for {bytes} more on budget '{Name}' of the same tree: " +
                "two holders waiting for each other's memory deadlock (hold-and-wait). Reserve everything at once, grow the held reservation, or pass allowWhileHolding: true.");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<MemoryReservation>(cancellationToken);
        }

        var reservation = new MemoryReservation(this, mode);
        ValueTask<Task?> decided = AdmitOrWaitAsync(bytes, reservation, cancellationToken);
        if (!decided.IsCompletedSuccessfully)
        {
            return new(AdmittedAsync(decided, reservation)); // direct reclaim awaited, not run on this thread
        }

#pragma warning disable RS0030 // read only once completed: nothing blocks
        Task? wait = decided.Result;
#pragma warning restore RS0030
        return wait is null ? new(reservation.Adopted()) : new(AdmittedAsync(new ValueTask<Task?>(wait), reservation));
    }

    /// <summary>Admits a reservation (or a growth) without reclaim or waiting.</summary>
    internal bool TryAdmit(long bytes)
    {
        MemoryBudget? refusedBy = Counter.TryCharge(bytes, Floor.Min, Ticket.Arrival, locked: false);
        if (refusedBy is not null)
        {
            using Stocks.StockSuspension stocks = SuspendStocks(bytes, Floor.Min, Ticket.Arrival, ref refusedBy);
            if (refusedBy is not null)
            {
                Tree.WakeBackgroundReclaim(refusedBy);
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Admits <paramref name="bytes"/> into <paramref name="into"/> now and returns null, or, after direct reclaim awaited
    /// (the caller's token reaching the reclaimers, as for <see cref="ChargeAsync"/>), returns the wait, whose grant
    /// admits them. Completed synchronously, without allocating, when there is room.
    /// </summary>
    /// <exception cref="OperationCanceledException">Through the task: cancelled during direct reclaim.</exception>
    internal ValueTask<Task?> AdmitOrWaitAsync(long bytes, MemoryReservation into, CancellationToken cancellationToken)
    {
        MemoryBudget? refusedBy = Counter.TryCharge(bytes, Floor.Min, Ticket.Arrival, locked: false);
        return refusedBy is null ? new(AdmitNow(bytes, into)) : AdmitSlowAsync(bytes, into, refusedBy, cancellationToken);
    }

    /// <summary>The admission's slow path: the stocks drained, direct reclaim awaited, then the killer and the wait.</summary>
    private async ValueTask<Task?> AdmitSlowAsync(long bytes, MemoryReservation into, MemoryBudget refusedBy, CancellationToken cancellationToken)
    {
        MemoryBudget? drainedRefusal = refusedBy;
        using (SuspendStocks(bytes, Floor.Min, Ticket.Arrival, ref drainedRefusal)) // until it decides; not bound to a thread
        {
            MemoryBudget? refused = drainedRefusal is null ? null
                : await ChargeWithoutWaitingAsync(bytes, AllocationMode.NoFail, Floor.Min, drainedRefusal, MaxReclaimRetries, cancellationToken).ConfigureAwait(false);
            if (refused is not null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (KillOrWait(bytes, refused, Floor.Min, Floor.Min, AllocationMode.NoFail, site: null, admits: into, cancellationToken) is { } wait)
                {
                    return wait;
                }
            }

            return AdmitNow(bytes, into);
        }
    }

    /// <summary>Bytes charged for <paramref name="into"/> go into it; null, or a failed task when it was disposed meanwhile (they went back).</summary>
    private static Task? AdmitNow(long bytes, MemoryReservation into) => into.AdmitOrRelease(bytes) ? null : Task.FromException(into.DisposedDuringGrowth(bytes));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void ValidateReservation(long bytes, ReservationMode mode)
    {
        if (bytes <= 0)
        {
            ThrowNotPositive(bytes);
        }

        if ((uint)mode > (uint)ReservationMode.Tokens)
        {
            ThrowUndefined(nameof(mode), mode);
        }

        for (MemoryBudget? level = this; level is not null; level = level.Parent)
        {
            if (bytes > level.Capacity - level.MinWatermark)
            {
                level.ThrowNeverAdmitted(bytes);
            }
        }

        ThrowIfDisposed();
    }

    /// <summary>
    /// Returns bytes admitted for a reservation that Remaining never counted (it was disposed meanwhile) to ordinary free
    /// memory, and wakes the waiters that now fit. A release of bytes Remaining counted goes through <see cref="EndRelease(long, AllocationContext?, bool)"/>.
    /// </summary>
    internal void ReleaseReserved(long bytes)
    {
        AllocationContext.Current?.Reclaiming?.Add(bytes); // inside a reclaimer, what it releases is its progress
        Counter.Release(bytes, waiters: false);
    }

    /// <summary>
    /// Charges the levels between <paramref name="target"/> and the reservation's budget (exclusive) for drawn bytes:
    /// a descendant's own capacity still applies, but none of its watermarks or queues, since the draw never waits.
    /// </summary>
    internal static bool ChargeBelow(MemoryBudget target, MemoryReservation reservation, long bytes) =>
        target.Counter.TryCharge(bytes, Floor.None, Ticket.Jump, locked: false, stopAt: reservation.Budget.Counter) is null;

    /// <summary>Tries ordinary memory without blocking: the fast path, then the slow-path floor, no reclaim.</summary>
    internal bool TryChargeNow(long bytes, AllocationMode mode, AllocationPriority priority) =>
        Counter.TryCharge(bytes, Floor.Low, Ticket.Arrival, locked: false) is null
        || Counter.TryCharge(bytes, SlowFloor(mode, priority), Ticket.Arrival, locked: false) is null;

    private static async Task<MemoryReservation> AdmittedAsync(ValueTask<Task?> decided, MemoryReservation reservation)
    {
        if (await decided.ConfigureAwait(false) is { } wait)
        {
            await wait.ConfigureAwait(false);
        }

        return reservation.Adopted(); // on the requester's flow, so its consumer adopts it
    }
}
