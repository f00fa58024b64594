namespace Headroom;

/// <summary>How charges inside a reservation use it (semantics §5).</summary>
public enum ReservationMode
{
    /// <summary>
    /// Dave Chinner's design: a charge first takes ordinary memory, without blocking, and draws from the reservation
    /// only when that would block or fail. The reservation is a raised watermark only its holder may dip below.
    /// </summary>
    Watermark = 0,

    /// <summary>Andrew Morton's token variant: a charge draws from the reservation first, then from ordinary memory.</summary>
    Tokens = 1,
}
