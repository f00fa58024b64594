namespace Headroom.AspNetCore;

/// <summary>The feature set on an admitted request.</summary>
internal sealed class MemoryAdmissionFeature(MemoryReservation reservation) : IMemoryAdmissionFeature
{
    public MemoryReservation Reservation { get; } = reservation;
}
