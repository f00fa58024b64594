using Headroom.Accounting;

namespace Headroom;

/// <summary>Reading Used: Committed less what live reservations and stocks hold, without a lock.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>Readings a reader tries for one that no release overlapped, before it takes what it has.</summary>
    private const int ReadingAttempts = 32;

    /// <summary><see cref="ReadUsed(out long, out long, out bool)"/> for readers that need neither the stocked bytes nor the proof.</summary>
    internal long ReadUsed(out long committed) => ReadUsed(out committed, out _, out _);

    /// <summary><see cref="ReadUsed(out long, out long, out bool)"/> without the proof.</summary>
    internal long ReadUsed(out long committed, out long stocked) => ReadUsed(out committed, out stocked, out _);

    /// <summary>
    /// A reading of Used that does not announce itself to the releases (see <see cref="ReleasesInFlight"/>): no locked
    /// instruction, but a reservation's disposal or shrink in flight can make it low. For a check that a low reading
    /// only makes stricter, and that reads again, announced, before it refuses.
    /// </summary>
    internal long ReadUsedUnannounced() => ReadUsed(out _, out _, out _, announce: false);

    /// <summary>
    /// Used (= Committed − Reserved − Stocked), read without a lock; <paramref name="exact"/> says no bracketed release
    /// overlapped the reading.
    /// </summary>
    internal long ReadUsed(out long committed, out long stocked, out bool exact) => ReadUsed(out committed, out stocked, out exact, announce: true);

    /// <summary>
    /// Used (= Committed − Reserved − Stocked), read without a lock; <paramref name="exact"/> says no bracketed release
    /// overlapped the reading; <paramref name="announce"/> says whether the releases of reservations are told to bracket
    /// themselves meanwhile.
    /// </summary>
    /// <remarks>
    /// While no reservation is live (a disposal leaves clearing the mark to the next reading) and no stock is
    /// registered at or below this budget, Used is Committed: one read.
    /// Otherwise the three are separate reads, and bytes that move between them while it reads can make a reading
    /// wrong for that instant. The stocks come first, then the reservations, then Committed. In that order every move
    /// that fills a remainder (an admission, a growth, a refill: Committed first) and every draw or take whose bytes
    /// then stay in Used or go into a stock can only make the reading high. A release that empties a remainder before
    /// it lowers Committed (a disposal, a shrink, a stock's drain or unbind) would make it low, so those are bracketed
    /// (<see cref="ReleasesInFlight"/>; a reservation's only while an announced reading is in progress) and a reading
    /// they overlap is taken again, up to <see cref="ReadingAttempts"/> times so that a busy tree cannot starve a
    /// reader. What stays unbracketed, because it is the hot path, is a draw
    /// or a stock's take followed by an uncharge of those bytes inside one reading: that can make a reading low by
    /// those bytes, which is why an uncharge refuses only what several readings refuse. Every reading is clamped into
    /// 0 ≤ Used ≤ Committed; at quiescence it is exact.
    /// </remarks>
    private long ReadUsed(out long committed, out long stocked, out bool exact, bool announce)
    {
        BudgetCounter counter = Counter;
        Stocks.StockDrain stocks = Tree.Stocks;
        if (!counter.HasLiveReservations && !stocks.Any)
        {
            committed = counter.Committed;
            stocked = 0;
            exact = true;
            return Math.Max(committed, 0); // nothing reserved or stocked here or below: Used is Committed, one read
        }

        ReleasesInFlight releases = Tree.Releases;
        var spin = default(SpinWait);
        long reserved;
        bool marked, anyLive = false;
        if (announce)
        {
            releases.Announce(); // before the first read: from here on a reservation's release is bracketed
        }

        // No try/finally: the reads throw nothing, and the uncharge's check runs this unannounced on every draw's uncharge.
        for (int attempt = 1; ; attempt++)
        {
            int ended = releases.Ended;
            stocked = stocks.Any ? stocks.Within(this) : 0; // before the reservations: a draw whose bytes then go into a stock reads high
            marked = counter.HasLiveReservations;
            reserved = marked ? Tree.Reservations.Within(this, out anyLive) : 0;
            committed = counter.Committed;
            exact = releases.IsQuiet(ended);
            if (exact || attempt == ReadingAttempts)
            {
                break;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }

        if (announce)
        {
            releases.Withdraw();
        }

        if (marked && !anyLive)
        {
            ForgetReservations(); // none live here any longer: the next reading is one read again
        }

        long used = Math.Clamp(committed - reserved, 0, Math.Max(committed, 0));
        stocked = Math.Min(stocked, used);
        return used - stocked;
    }

    /// <summary>
    /// A reading walked the reservations marked live at this level and met none: clears the mark, unless an admission
    /// lists one meanwhile (<see cref="BudgetCounter.TryBeginForgetting"/>). Its token is its thread's, since a thread
    /// reads one reading at a time. A reservation's disposal leaves the mark to this, so that it writes no shared
    /// counter.
    /// </summary>
    private void ForgetReservations()
    {
        int token = Environment.CurrentManagedThreadId + 1; // above both marks
        if (Counter.TryBeginForgetting(token))
        {
            // After the compare-and-swap (a full fence): every reservation listed before it is seen here, and every
            // admission that lists one after it finds the token and marks the level again.
            _ = Tree.Reservations.Within(this, out bool anyLive);
            Counter.EndForgetting(token, anyLive);
        }
    }

    /// <summary>
    /// The second step of a release the caller opened with <see cref="ReleasesInFlight.Begin"/> after lowering a
    /// remainder (a reservation's, a stock's) by <paramref name="bytes"/>: lowers Committed at every level, closes the
    /// release, and only then wakes the waiters that now fit (a grant may read Used). <paramref name="context"/> is the
    /// flow's: inside a reclaimer, what it releases is its progress.
    /// </summary>
    internal void EndRelease(long bytes, AllocationContext? context) => EndRelease(bytes, context, bracketed: true);

    /// <summary>
    /// <see cref="EndRelease(long, AllocationContext?)"/> for a reservation's release, which is
    /// <paramref name="bracketed"/> only when <see cref="ReleasesInFlight.BeginIfWatched"/> opened it.
    /// </summary>
    internal void EndRelease(long bytes, AllocationContext? context, bool bracketed)
    {
        bool waiters = false;
        if (bytes > 0)
        {
            context?.Reclaiming?.Add(bytes);
            waiters = Counter.Lower(bytes);
        }

        if (bracketed)
        {
            Tree.Releases.End();
        }

        if (waiters)
        {
            WakeWaiters();
        }
    }
}
