using System.Diagnostics;
using Headroom.Lab.Running;

namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>
/// The scenario's own counts, kept in plain fields while the workers run (a figure per event would put a dictionary
/// update on the hot path) and published as <see cref="TransactionFigures"/> once they ended.
/// </summary>
internal sealed class TransactionTally
{
    private long _begun;
    private long _committed;
    private long _committedBuffers;
    private long _rented;
    private long _rolledBackBuffers;
    private long _aborted;
    private long _loopRetries;
    private long _loopWarnings;
    private long _loopedAllocations;
    private long _noFailWaits;
    private long _waitTicks;
    private long _preallocationBackoffs;
    private long _mempoolWaits;
    private long _mempoolTimedWakes;
    private long _reservationWaits;
    private long _reservationWaitsWhileReclaimable;
    private long _reservationWaitsWithAnyReclaimable;
    private long _reservations;
    private long _notAdmittedAtOnce;
    private readonly Samples _reserveTicks = new();
    private readonly Samples _chargeTicks = new();
    private long _reclaimableAtWait;
    private long _failPointRefusals;
    private long _limiterWaits;
    private long _unusedPermitBytes;

    public long Aborted => Interlocked.Read(ref _aborted);

    public void Begun() => Interlocked.Increment(ref _begun);

    public void Committed(int buffers)
    {
        Interlocked.Increment(ref _committed);
        Interlocked.Add(ref _committedBuffers, buffers);
    }

    public void Rented(int buffers = 1) => Interlocked.Add(ref _rented, buffers);

    public void RolledBack(int buffers) => Interlocked.Add(ref _rolledBackBuffers, buffers);

    public void Abort() => Interlocked.Increment(ref _aborted);

    public void LoopRetry(bool warned)
    {
        Interlocked.Increment(ref _loopRetries);
        if (warned)
        {
            Interlocked.Increment(ref _loopWarnings);
        }
    }

    public void Looped() => Interlocked.Increment(ref _loopedAllocations);

    public void NoFailWait() => Interlocked.Increment(ref _noFailWaits);

    public void MempoolWait() => Interlocked.Increment(ref _mempoolWaits);

    public void MempoolTimedWake() => Interlocked.Increment(ref _mempoolTimedWakes);

    public void PreallocationBackoff() => Interlocked.Increment(ref _preallocationBackoffs);

    public void FailPointRefused() => Interlocked.Increment(ref _failPointRefusals);

    public void LimiterWait() => Interlocked.Increment(ref _limiterWaits);

    public void UnusedPermits(long bytes) => Interlocked.Add(ref _unusedPermitBytes, bytes);

    /// <summary>
    /// A reservation is about to wait, short of <paramref name="shortfall"/> bytes; <paramref name="reclaimable"/> is
    /// what the page cache still reports.
    /// </summary>
    public void ReservationWait(long shortfall, long reclaimable)
    {
        Interlocked.Increment(ref _reservationWaits);
        Interlocked.Add(ref _reclaimableAtWait, reclaimable);
        if (reclaimable > 0)
        {
            Interlocked.Increment(ref _reservationWaitsWithAnyReclaimable);
        }

        if (reclaimable >= shortfall)
        {
            Interlocked.Increment(ref _reservationWaitsWhileReclaimable);
        }
    }

    public void Reserved() => Interlocked.Increment(ref _reservations);

    public void ReservationNotAdmittedAtOnce() => Interlocked.Increment(ref _notAdmittedAtOnce);

    /// <summary>An admission granted without waiting and its release took <paramref name="ticks"/>.</summary>
    public void ReserveTook(long ticks) => _reserveTicks.Add(ticks);

    /// <summary>A one-buffer charge granted without waiting and its uncharge took <paramref name="ticks"/>.</summary>
    public void ChargeTook(long ticks) => _chargeTicks.Add(ticks);

    /// <summary>A wait that began at <paramref name="startedTimestamp"/> ended now.</summary>
    public void WaitEnded(long startedTimestamp) => Interlocked.Add(ref _waitTicks, Stopwatch.GetTimestamp() - startedTimestamp);

    private static double Nanoseconds(long ticks) => ticks * 1e9 / Stopwatch.Frequency;

    public void Publish(PolicyRun run)
    {
        long committed = Interlocked.Read(ref _committed);
        long reservationWaits = Interlocked.Read(ref _reservationWaits);
        run.Figure(TransactionFigures.TransactionsBegun, Interlocked.Read(ref _begun));
        run.Figure(TransactionFigures.BuffersPerTransaction, committed == 0 ? 0 : (double)Interlocked.Read(ref _committedBuffers) / committed);
        run.Figure(TransactionFigures.BuffersRented, Interlocked.Read(ref _rented));
        run.Figure(TransactionFigures.AbortedAtEnd, Interlocked.Read(ref _aborted));
        run.Figure(TransactionFigures.RollbacksPerTransaction, committed == 0 ? 0 : (double)run.Rollbacks / committed);
        run.Figure(TransactionFigures.RolledBackBuffers, Interlocked.Read(ref _rolledBackBuffers));
        run.Figure(TransactionFigures.LoopRetries, Interlocked.Read(ref _loopRetries));
        run.Figure(TransactionFigures.LoopWarnings, Interlocked.Read(ref _loopWarnings));
        run.Figure(TransactionFigures.LoopedAllocations, Interlocked.Read(ref _loopedAllocations));
        run.Figure(TransactionFigures.NoFailWaits, Interlocked.Read(ref _noFailWaits));
        run.Figure(TransactionFigures.WaitMs, Interlocked.Read(ref _waitTicks) * 1000.0 / Stopwatch.Frequency);
        run.Figure(TransactionFigures.PreallocationBackoffs, Interlocked.Read(ref _preallocationBackoffs));
        run.Figure(TransactionFigures.MempoolWaits, Interlocked.Read(ref _mempoolWaits));
        run.Figure(TransactionFigures.MempoolTimedWakes, Interlocked.Read(ref _mempoolTimedWakes));
        run.Figure(TransactionFigures.ReservationWaits, reservationWaits);
        run.Figure(TransactionFigures.Reservations, Interlocked.Read(ref _reservations));
        run.Figure(TransactionFigures.ReservationWaitsWhileReclaimable, Interlocked.Read(ref _reservationWaitsWhileReclaimable));
        run.Figure(TransactionFigures.ReservationWaitsWithAnyReclaimable, Interlocked.Read(ref _reservationWaitsWithAnyReclaimable));
        run.Figure(TransactionFigures.ReservationsNotAdmittedAtOnce, Interlocked.Read(ref _notAdmittedAtOnce));
        if (_reserveTicks.Median() is { } reserve)
        {
            run.Figure(TransactionFigures.ReserveNsPerCall, Nanoseconds(reserve));
        }

        if (_chargeTicks.Median() is { } charge)
        {
            run.Figure(TransactionFigures.ChargeNsPerCall, Nanoseconds(charge));
        }
        run.Figure(TransactionFigures.ReclaimableBytesAtWaitMean, reservationWaits == 0 ? 0 : (double)Interlocked.Read(ref _reclaimableAtWait) / reservationWaits);
        run.Figure(TransactionFigures.FailPointRefusals, Interlocked.Read(ref _failPointRefusals));
        run.Figure(TransactionFigures.LimiterWaits, Interlocked.Read(ref _limiterWaits));
        run.Figure(TransactionFigures.UnusedPermitBytes, Interlocked.Read(ref _unusedPermitBytes));
    }

    /// <summary>
    /// Timings whose median is reported: on a shared two-core machine one preempted sample of milliseconds outweighs
    /// thousands of sub-microsecond ones in a mean.
    /// </summary>
    private sealed class Samples
    {
        private const int Most = 1 << 16;
        private readonly List<long> _ticks = [];

        public void Add(long ticks)
        {
            lock (_ticks)
            {
                if (_ticks.Count < Most)
                {
                    _ticks.Add(ticks);
                }
            }
        }

        public long? Median()
        {
            lock (_ticks)
            {
                if (_ticks.Count == 0)
                {
                    return null;
                }

                _ticks.Sort();
                return _ticks[_ticks.Count / 2];
            }
        }
    }
}
