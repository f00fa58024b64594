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
    /// Used (= Committed − Reserved − Stocked), read without a lock; <paramref name="exact"/> says no release overlapped
    /// the reading (see <see cref="ReleasesInFlight"/> for why the remainders are read before Committed).
    /// </summary>
    /// <remarks>
    /// While no reservation is live at or below this budget, Reserved is 0 and Committed is one read. Otherwise the
    /// live reservations are walked. An exact reading is one that Used held at an instant during it, give or take
    /// admissions, growths and refills in flight, which can only make it high, and stock takes and gives by their
    /// owners, whose plain writes another thread may see late (by at most what the stocks hold). A reading that a
    /// release overlapped may be low; after <see cref="ReadingAttempts"/> such readings in a row (a tree busy with
    /// releases) the last is taken, so that a reader cannot starve. Every reading is clamped into 0 ≤ Used ≤ Committed.
    /// </remarks>
    internal long ReadUsed(out long committed, out long stocked, out bool exact)
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
        for (int attempt = 1; ; attempt++)
        {
            int ended = releases.Ended;
            reserved = counter.HasLiveReservations ? Tree.Reservations.Within(this) : 0;
            stocked = stocks.Any ? stocks.Within(this) : 0;
            committed = counter.Committed;
            exact = releases.IsQuiet(ended);
            if (exact || attempt == ReadingAttempts)
            {
                break;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }

        long used = Math.Clamp(committed - reserved, 0, Math.Max(committed, 0));
        stocked = Math.Min(stocked, used);
        return used - stocked;
    }

    /// <summary>
    /// The second step of a release the caller opened with <see cref="ReleasesInFlight.Begin"/> after lowering a
    /// remainder (a reservation's, a stock's) by <paramref name="bytes"/>: lowers Committed at every level, closes the
    /// release, and only then wakes the waiters that now fit (a grant may read Used). <paramref name="context"/> is the
    /// flow's: inside a reclaimer, what it releases is its progress.
    /// </summary>
    internal void EndRelease(long bytes, AllocationContext? context)
    {
        bool waiters = false;
        if (bytes > 0)
        {
            context?.Reclaiming?.Add(bytes);
            waiters = Counter.Lower(bytes);
        }

        Tree.Releases.End();
        if (waiters)
        {
            WakeWaiters();
        }
    }
}
