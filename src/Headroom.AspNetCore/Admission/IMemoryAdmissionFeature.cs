namespace Headroom.AspNetCore;

/// <summary>
/// The reservation an admitted request holds (<c>HttpContext.Features.Get&lt;IMemoryAdmissionFeature&gt;()</c>). The
/// handler runs inside it (<see cref="MemoryReservation.Enter"/>), so its charges and rents on the budget draw from it
/// first and cannot fail while within it; it is released when the response completes.
/// </summary>
public interface IMemoryAdmissionFeature
{
    /// <summary>Gets the request's reservation, in <see cref="ReservationMode.Tokens"/> mode.</summary>
    MemoryReservation Reservation { get; }
}
