using System.Diagnostics;

namespace Headroom;

/// <summary>
/// A reservation's lock-free state machine (semantics §5): the bytes admitted and the bytes still promised, each moved
/// by compare-and-swap, with no lock and no counter that every draw would update. States: not yet admitted (a
/// reservation made for a wait, or one listed just before its admission), live (Remaining ≥ 0), disposed (Remaining
/// holds the complement of what was given back undrawn). A field of its reservation, used in place.
/// </summary>
internal struct ReservationBalance
{
    /// <summary>
    /// The value of <see cref="_amount"/> in a reservation made for a wait, until the grant admits it, or listed
    /// before its admission, until it is filled: kept out of <see cref="_remaining"/>, where every negative value is a
    /// disposed reservation's record, and out of reach of the amount a growth racing a shrink can show for an instant.
    /// </summary>
    private const long NotAdmitted = long.MinValue;

    private long _amount;

    /// <summary>
    /// While live, the bytes still promised. Once disposed, the complement (<c>~</c>, so negative) of the bytes the
    /// reservation gave back undrawn: the compare-and-swap that closes it also takes its remainder, and
    /// <see cref="Drawn"/> stays Amount − given back.
    /// </summary>
    private long _remaining;

    /// <summary>A balance admitted with <paramref name="amount"/>, or (null) one waiting for its admission.</summary>
    internal ReservationBalance(long? amount)
    {
        _amount = amount ?? NotAdmitted;
        _remaining = amount ?? 0;
    }

    /// <summary>Gets the bytes admitted: the first admission, plus growth, less what was shrunk.</summary>
    internal readonly long Amount => Math.Max(0, Volatile.Read(in _amount));

    /// <summary>Gets Amount − undrawn, clamped: a growth or shrink in flight moves the two apart for an instant.</summary>
    internal readonly long Drawn
    {
        get
        {
            long remaining = Volatile.Read(in _remaining);
            long amount = Volatile.Read(in _amount);
            long undrawn = remaining >= 0 ? remaining : ~remaining;
            return Math.Clamp(amount - undrawn, 0, Math.Max(amount, 0));
        }
    }

    /// <summary>Gets the bytes still promised; 0 once disposed.</summary>
    internal readonly long Remaining => Math.Max(0, Volatile.Read(in _remaining));

    /// <summary>Gets the raw remainder: negative once disposed.</summary>
    internal readonly long RawRemaining => Volatile.Read(in _remaining);

    internal readonly bool IsDisposed => Volatile.Read(in _remaining) < 0;

    /// <summary>Gets whether the balance was admitted (false for one still waiting for its admission).</summary>
    internal readonly bool IsAdmitted => Volatile.Read(in _amount) != NotAdmitted;

    /// <summary>
    /// Puts admitted bytes in: a balance waiting for its admission is filled (true: the caller lists it, nobody else
    /// sees it yet); a live one grows; a disposed one refuses (<paramref name="refused"/>), with nothing changed.
    /// </summary>
    internal bool Fill(long bytes, out bool refused)
    {
        refused = false;
        if (Volatile.Read(ref _amount) == NotAdmitted)
        {
            // Nobody else disposes, draws or grows it before its admission completes; readers may see it listed.
            Volatile.Write(ref _remaining, bytes);
            Volatile.Write(ref _amount, bytes);
            return true;
        }

        if (!TryReturn(bytes, recordIfDisposed: false))
        {
            refused = true;
            return false;
        }

        Interlocked.Add(ref _amount, bytes);
        return false;
    }

    /// <summary>Claims up to <paramref name="bytes"/> of Remaining; returns what it claimed (0 when none is left, or disposed).</summary>
    internal long Take(long bytes)
    {
        long remaining = Volatile.Read(ref _remaining);
        while (true)
        {
            long take = Math.Min(bytes, remaining);
            if (take <= 0)
            {
                return 0;
            }

            long seen = Interlocked.CompareExchange(ref _remaining, remaining - take, remaining);
            if (seen == remaining)
            {
                return take;
            }

            remaining = seen;
        }
    }

    /// <summary>
    /// Adds <paramref name="bytes"/> to Remaining and returns true. Once disposed it returns false and the caller
    /// releases them; with <paramref name="recordIfDisposed"/> (bytes a charge took, coming back) they join the record of
    /// what was given back undrawn, else (a growth admitted too late) nothing changes.
    /// </summary>
    internal bool TryReturn(long bytes, bool recordIfDisposed)
    {
        long remaining = Volatile.Read(ref _remaining);
        while (remaining >= 0 || recordIfDisposed)
        {
            long next = remaining >= 0 ? remaining + bytes : remaining - bytes; // disposed: ~(given back + bytes)
            long seen = Interlocked.CompareExchange(ref _remaining, next, remaining);
            if (seen == remaining)
            {
                return remaining >= 0;
            }

            remaining = seen;
        }

        return false;
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> out of Remaining and Amount; false, with nothing changed, when the balance is
    /// disposed or holds less (<paramref name="remaining"/> says what it read).
    /// </summary>
    internal bool TryShrink(long bytes, out long remaining)
    {
        remaining = Volatile.Read(ref _remaining);
        while (remaining >= 0 && bytes <= remaining)
        {
            long seen = Interlocked.CompareExchange(ref _remaining, remaining - bytes, remaining);
            if (seen == remaining)
            {
                Interlocked.Add(ref _amount, -bytes);
                return true;
            }

            remaining = seen;
        }

        return false;
    }

    /// <summary>Closes a balance that was never admitted (its admission was refused), so that it counts as disposed.</summary>
    internal void Abandon()
    {
        Debug.Assert(!IsAdmitted && _remaining == 0, "only a balance waiting for its admission is abandoned");
        Volatile.Write(ref _remaining, ~0L); // disposed, having given back nothing
    }

    /// <summary>Closes a live balance, taking its remainder (<paramref name="remaining"/>); false when it was closed already.</summary>
    internal bool TryClose(out long remaining)
    {
        remaining = Volatile.Read(ref _remaining);
        while (remaining >= 0)
        {
            long seen = Interlocked.CompareExchange(ref _remaining, ~remaining, remaining);
            if (seen == remaining)
            {
                return true;
            }

            remaining = seen;
        }

        return false;
    }
}
