using System.Diagnostics.CodeAnalysis;

namespace Headroom;

/// <summary>Charges held as leases (<see cref="ChargeLease"/>): the charge entry points, with the uncharge tied to the grant.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>Charges <paramref name="bytes"/> as <see cref="TryCharge"/> does, and holds the charge as a lease.</summary>
    /// <param name="bytes">The size; positive and not above <see cref="Capacity"/>.</param>
    /// <param name="lease">The lease when charged; dispose it to uncharge.</param>
    /// <param name="mode">What to do without room; <see cref="AllocationMode.NoFail"/> is refused, as by <see cref="TryCharge"/>.</param>
    /// <param name="priority">How deep into the min reserve the slow path may go.</param>
    /// <param name="site">An optional name for the caller.</param>
    /// <returns><see langword="true"/> when charged; <see langword="false"/> when refused, with no counter changed.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public bool TryLease(long bytes, [NotNullWhen(true)] out ChargeLease? lease, AllocationMode mode = AllocationMode.NoWait, AllocationPriority priority = AllocationPriority.Normal, string? site = null)
    {
        lease = TryCharge(bytes, mode, priority, site) ? NewLease(bytes) : null;
        return lease is not null;
    }

    /// <summary>Charges <paramref name="bytes"/> as <see cref="Charge"/> does, and holds the charge as a lease.</summary>
    /// <param name="bytes">The size; positive and not above <see cref="Capacity"/>.</param>
    /// <param name="mode">What to do without room (semantics §3).</param>
    /// <param name="priority">How deep into the min reserve the slow path may go.</param>
    /// <param name="site">An optional name for the caller, reported in warnings and exceptions.</param>
    /// <param name="cancellationToken">Ends a wait; a cancelled charge leaves nothing behind.</param>
    /// <returns>The lease; dispose it to uncharge.</returns>
    /// <exception cref="MemoryAllocationException">Not granted; nothing changed.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before it was granted; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed, before or during the wait.</exception>
    public ChargeLease Lease(long bytes, AllocationMode mode, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        Charge(bytes, mode, priority, site, cancellationToken);
        return NewLease(bytes);
    }

    /// <summary>Charges <paramref name="bytes"/> as <see cref="ChargeAsync"/> does, and holds the charge as a lease.</summary>
    /// <param name="bytes">The size; positive and not above <see cref="Capacity"/>.</param>
    /// <param name="mode">What to do without room (semantics §3).</param>
    /// <param name="priority">How deep into the min reserve the slow path may go.</param>
    /// <param name="site">An optional name for the caller, reported in warnings and exceptions.</param>
    /// <param name="cancellationToken">Ends a wait; a cancelled charge leaves nothing behind.</param>
    /// <returns>The lease; completed synchronously when there is room.</returns>
    /// <exception cref="MemoryAllocationException">Not granted; nothing changed.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before it was granted; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed, before or during the wait.</exception>
    public ValueTask<ChargeLease> LeaseAsync(long bytes, AllocationMode mode, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        MemoryConsumer? consumer = AllocationContext.Current?.Consumer; // read before the wait: the charge is attributed to this flow's
        ValueTask charge = ChargeAsync(bytes, mode, priority, site, cancellationToken);
        return charge.IsCompletedSuccessfully ? new(new ChargeLease(this, bytes, consumer)) : new(LeasedAsync(charge, bytes, consumer));
    }

    private ChargeLease NewLease(long bytes) => new(this, bytes, AllocationContext.Current?.Consumer);

    private async Task<ChargeLease> LeasedAsync(ValueTask charge, long bytes, MemoryConsumer? consumer)
    {
        await charge.ConfigureAwait(false);
        return new ChargeLease(this, bytes, consumer);
    }
}
