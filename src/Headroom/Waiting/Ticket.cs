namespace Headroom.Waiting;

/// <summary>
/// A charge's place in line. Waiters get increasing tickets from their tree; a level refuses a charge while a
/// waiter with an older ticket is queued there, so nobody overtakes an earlier waiter (semantics §3, FIFO).
/// </summary>
internal static class Ticket
{
    /// <summary>A new arrival: behind every queued waiter (checked lock-free through the queued count).</summary>
    internal const long Arrival = long.MaxValue;

    /// <summary>Ahead of every waiter: reclaim context, which must make progress to free memory for the others.</summary>
    internal const long Jump = 0;
}
