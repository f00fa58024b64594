using System.Threading.RateLimiting;

namespace Headroom.AspNetCore;

/// <summary>A granted lease: the reservation of its bytes, released when the lease is disposed.</summary>
internal sealed class MemoryLease(MemoryRateLimiter? limiter, MemoryReservation? reservation) : RateLimitLease
{
    private MemoryReservation? _reservation = reservation;
    private int _released;

    public override bool IsAcquired => true;

    public override IEnumerable<string> MetadataNames => _reservation is null ? [] : [MemoryRateLimiter.ReservationMetadata.Name];

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        if (metadataName == MemoryRateLimiter.ReservationMetadata.Name && Volatile.Read(ref _reservation) is { } reservation)
        {
            metadata = reservation;
            return true;
        }

        metadata = null;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            Interlocked.Exchange(ref _reservation, null)?.Dispose();
            limiter?.Released(); // null: the shared 0-permit grant, which holds nothing
        }

        base.Dispose(disposing);
    }
}
