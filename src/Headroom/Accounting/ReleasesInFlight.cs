namespace Headroom.Accounting;

/// <summary>
/// The releases of a tree that move bytes out of Reserved or Stocked and then out of Committed, in two steps (a
/// reservation's disposal or shrink, a stock's drain or flush), counted as they begin and end so that a reading of
/// Used can tell whether one overlapped it.
/// </summary>
/// <remarks>
/// Used is read as Committed less Reserved less Stocked, and those are separate reads. A reading takes the remainders
/// (reservations, stocks) first and Committed last. An admission, a growth or a refill raises Committed before the
/// remainder, so it can only make the reading high: whatever the walk saw, Committed read after it includes. A release
/// lowers the remainder first and Committed second, and one that falls between the two reads makes the reading low,
/// lower than Used ever was (the uncharge check would refuse a caller's own bytes). So releases are bracketed:
/// <see cref="Begin"/> before the first step, <see cref="End"/> after the second, both full fences. A reader takes
/// <see cref="Ended"/> before its first read and the count begun after its last; since begun ≥ ended at every
/// instant, and both only grow, equal values prove that no release was in flight when it started and none began
/// before it finished (<see cref="IsQuiet"/>). The counts wrap; equality still holds unless 2³² releases begin
/// within one reading.
/// </remarks>
internal sealed class ReleasesInFlight
{
    private int _begun;
    private int _ended;

    /// <summary>Gets the count of releases ended; a reading takes it before its first read.</summary>
    internal int Ended => Volatile.Read(ref _ended);

    /// <summary>Opens a release, before its first step.</summary>
    internal void Begin() => Interlocked.Increment(ref _begun);

    /// <summary>Closes a release, after its last step (Committed lowered); before it wakes anyone.</summary>
    internal void End() => Interlocked.Increment(ref _ended);

    /// <summary>True when no release overlapped a reading that took <paramref name="ended"/> before its first read; called after its last.</summary>
    internal bool IsQuiet(int ended) => Volatile.Read(ref _begun) == ended;
}
