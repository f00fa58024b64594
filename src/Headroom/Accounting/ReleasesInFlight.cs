namespace Headroom.Accounting;

/// <summary>
/// The releases of a tree that move bytes out of Reserved or Stocked and then out of Committed, in two steps (a
/// reservation's disposal or shrink, a stock's drain or flush), counted as they begin and end so that a reading of
/// Used can tell whether one overlapped it.
/// </summary>
/// <remarks>
/// Used is read as Committed less Reserved less Stocked, three separate reads: the stocks, the reservations, then
/// Committed (<c>MemoryBudget.ReadUsed</c> says why that order). A release that lowers a remainder first and Committed
/// second, falling between the reads, makes the reading low, lower than Used ever was. So those releases are
/// bracketed: <see cref="Begin"/> before the first step, <see cref="End"/> after the second, both full fences. A
/// reader takes <see cref="Ended"/> before its first read and the count begun after its last; since begun ≥ ended at
/// every instant, and both only grow, equal values prove that no release was in flight when it started and none began
/// before it finished (<see cref="IsQuiet"/>). The counts wrap; equality still holds unless 2³² releases begin within
/// one reading.
/// <para>
/// A reservation's release, the hot one, is bracketed only while a reading is in progress, since its bracket is two
/// locked instructions on a line every thread shares. Readers that need the proof announce themselves
/// (<see cref="Announce"/>, a full fence) before their first read; such a release lowers the remainder with a locked
/// instruction (a full fence) and only then asks <see cref="BeginIfWatched"/>. Each side writes, fences, then reads
/// the other's word, so at least one sees the other: either the release sees the reader and is bracketed (its
/// <see cref="Begin"/> comes before it lowers Committed, so a reader that saw Committed lowered sees it begun), or the
/// reader's reads of the remainder come after it was lowered, and a release seen wholly before Committed can only make
/// the reading high. A reading that does not announce itself may be low by what such releases move while it reads.
/// </para>
/// </remarks>
internal sealed class ReleasesInFlight
{
    private int _begun;
    private int _ended;
    private int _readers;

    /// <summary>Gets the count of releases ended; a reading takes it before its first read.</summary>
    internal int Ended => Volatile.Read(ref _ended);

    /// <summary>Opens a release, before its first step.</summary>
    internal void Begin() => Interlocked.Increment(ref _begun);

    /// <summary>
    /// Opens a release whose first step (a locked instruction) lowered a remainder already, if a reading announced
    /// itself; returns whether it did, and then the caller ends it with <see cref="End"/>.
    /// </summary>
    internal bool BeginIfWatched()
    {
        if (Volatile.Read(ref _readers) == 0)
        {
            return false;
        }

        Begin();
        return true;
    }

    /// <summary>Closes a release, after its last step (Committed lowered); before it wakes anyone.</summary>
    internal void End() => Interlocked.Increment(ref _ended);

    /// <summary>True when no release overlapped a reading that took <paramref name="ended"/> before its first read; called after its last.</summary>
    internal bool IsQuiet(int ended) => Volatile.Read(ref _begun) == ended;

    /// <summary>A reading that needs the proof starts: from now on every release brackets itself (a full fence).</summary>
    internal void Announce() => Interlocked.Increment(ref _readers);

    /// <summary>The reading <see cref="Announce"/> started has ended.</summary>
    internal void Withdraw() => Interlocked.Decrement(ref _readers);
}
