using System.Buffers;
using System.Diagnostics;

namespace Headroom.Lab.Scenarios.Transactions.Policies;

/// <summary>
/// Chinner's reservation (Watermark mode) and Morton's tokens (Tokens mode): the worst case reserved before the
/// transaction (TryReserve, and when that is refused ReserveAsync, which reclaims, then waits FIFO until it can); then every
/// rent inside <see cref="MemoryReservation.Enter"/> is a NoWait rent, which guarantee G1 says is granted at once.
/// A NoWait rent that failed would be a mid-transaction failure, so the count of those is G1's test. What the
/// transaction left undrawn is reported as reserved and unused.
/// </summary>
internal sealed class ReservationPolicy(Filesystem fs, ReservationMode mode) : TransactionPolicy(fs)
{
    public const string WatermarkName = "reservation-watermark";

    public const string TokensName = "reservation-tokens";

    public ReservationMode Mode { get; } = mode;

    public override async ValueTask<bool> TryRunAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        long asked = Stopwatch.GetTimestamp();
        bool atOnce = Budget.TryReserve(TransactionSizing.WorstCaseBytes, out MemoryReservation? reservation, Mode);
        long admission = Stopwatch.GetTimestamp() - asked;
        if (!atOnce)
        {
            reservation = await ReserveSlowlyAsync(asked, cancellationToken).ConfigureAwait(false);
        }

        Tally.Reserved();
        try
        {
            return await DrawAndCommitAsync(transaction, reservation!, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            long released = Stopwatch.GetTimestamp();
            reservation!.Dispose();
            if (atOnce)
            {
                Tally.ReserveTook(admission + Stopwatch.GetTimestamp() - released);
            }
        }
    }

    /// <summary>Not admitted at once: ReserveAsync runs direct reclaim in the caller and, when that gives up, queues.</summary>
    private async ValueTask<MemoryReservation> ReserveSlowlyAsync(long asked, CancellationToken cancellationToken)
    {
        Tally.ReservationNotAdmittedAtOnce();
        ValueTask<MemoryReservation> pending = Budget.ReserveAsync(TransactionSizing.WorstCaseBytes, Mode, cancellationToken: cancellationToken);
        if (!pending.IsCompleted)
        {
            // Direct reclaim gave up and the reservation queued: what does the page cache still say it could free? (Weiner)
            long room = Budget.Capacity - Budget.MinWatermark - Budget.Committed;
            Tally.ReservationWait(TransactionSizing.WorstCaseBytes - Math.Max(0, room), Fs.Cache.ReclaimableBytes);
        }

        try
        {
            return await pending.ConfigureAwait(false);
        }
        finally
        {
            Tally.WaitEnded(asked);
        }
    }

    private async ValueTask<bool> DrawAndCommitAsync(Transaction transaction, MemoryReservation reservation, CancellationToken cancellationToken)
    {
        bool drawn;
        using (reservation.Enter())
        {
            drawn = await DrawAllAsync(transaction, cancellationToken).ConfigureAwait(false);
        }

        if (!drawn)
        {
            return false;
        }

        Fs.Run.ReservedUnused(reservation.Remaining);
        Commit(transaction);
        return true;
    }

    protected override ValueTask<IMemoryOwner<byte>?> RentAsync(Transaction transaction, CancellationToken cancellationToken) => TryRent(AllocationMode.NoWait);
}
