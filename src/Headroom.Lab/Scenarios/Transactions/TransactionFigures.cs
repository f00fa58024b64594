namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>
/// The names of the transactions scenario's own figures in results.json (beside the standard metrics), so that the
/// claims and the report read them by one spelling. Counts are totals over the run unless the name says otherwise.
/// </summary>
internal static class TransactionFigures
{
    // The shape of the run.

    /// <summary>The budget's capacity, bytes.</summary>
    public const string CapacityBytes = "capacityBytes";

    /// <summary>A transaction's known worst case, bytes (what reservations, preallocation, fail points and permits ask for).</summary>
    public const string WorstCaseBytes = "worstCaseBytes";

    /// <summary>Worker threads.</summary>
    public const string Threads = "threads";

    /// <summary>Transactions begun (completed, or aborted when the run ended).</summary>
    public const string TransactionsBegun = "transactionsBegun";

    /// <summary>Buffers the committed transactions used, per committed transaction.</summary>
    public const string BuffersPerTransaction = "buffersPerTransaction";

    /// <summary>Buffers rented from the budget or the pool, preallocated ones included.</summary>
    public const string BuffersRented = "buffersRented";

    /// <summary>Transactions still in progress when the run's grace period after its duration ran out; they were cancelled and rolled back.</summary>
    public const string AbortedAtEnd = "transactionsAbortedAtEnd";

    // Morton and Hocko: callers should handle failure (mayfail-rollback, memoryfailpoint, ratelimiter).

    /// <summary>Rollbacks per committed transaction.</summary>
    public const string RollbacksPerTransaction = "rollbacksPerTransaction";

    /// <summary>Buffers rented and then given back by rollbacks: work done twice.</summary>
    public const string RolledBackBuffers = "rolledBackBuffers";

    // Ts'o and Chinner: looping works pretty well; the canary rarely fires.

    /// <summary>nofail-loop: failed attempts, each followed by a 20 ms sleep.</summary>
    public const string LoopRetries = "nofailLoopRetries";

    /// <summary>nofail-loop: "possible memory allocation deadlock" warnings (one per 100 retries of one allocation).</summary>
    public const string LoopWarnings = "loopWarnings";

    /// <summary>nofail-loop: allocations that needed at least one retry.</summary>
    public const string LoopedAllocations = "loopedAllocations";

    /// <summary>nofail: rents that had to wait in the budget's queue (did not complete synchronously).</summary>
    public const string NoFailWaits = "noFailWaits";

    /// <summary>Milliseconds spent in the waits above (nofail), or in mempool waits, or in reservation waits.</summary>
    public const string WaitMs = "waitMs";

    // Chinner: preallocation has a massive impact on performance.

    /// <summary>preallocate: optimistic preallocations that failed and were redone, one at a time, with NoFail.</summary>
    public const string PreallocationBackoffs = "preallocationBackoffs";

    // Chinner: mempools suit single-size objects, not transactions.

    /// <summary>mempool: allocations that waited for an element to come back.</summary>
    public const string MempoolWaits = "mempoolWaits";

    /// <summary>mempool: waits woken by mempool_alloc's timer (no element came back in time) to retry reclaim.</summary>
    public const string MempoolTimedWakes = "mempoolTimedWakes";

    /// <summary>mempool: the pool's minimum, bytes (charged for the whole run).</summary>
    public const string MempoolBytes = "mempoolBytes";

    // Chinner: a reservation is an increased value in a single integer variable.

    /// <summary>
    /// reservation-*: nanoseconds of one admission of the worst case granted at once (TryReserve) plus its Dispose, on
    /// the run's budget, in the run: the median (a mean on a shared machine measures preemption).
    /// </summary>
    public const string ReserveNsPerCall = "reserveNsPerCall";

    /// <summary>
    /// Every policy: nanoseconds of one charge of one buffer granted at once (TryCharge NoWait) plus its Uncharge, on
    /// the run's budget, in the run, sampled by each worker before every fourth transaction: the median.
    /// </summary>
    public const string ChargeNsPerCall = "chargeNsPerCall";

    /// <summary>ReserveAsync(worst case) + Dispose on a quiet budget, nanoseconds per pair.</summary>
    public const string ReserveDisposeNs = "reserveDisposeNs";

    /// <summary>ChargeAsync(worst case) + Uncharge on the same quiet budget in the same run, nanoseconds per pair.</summary>
    public const string ChargeUnchargeNs = "chargeUnchargeNs";

    /// <summary><see cref="ReserveDisposeNs"/> / <see cref="ChargeUnchargeNs"/>.</summary>
    public const string ReserveToChargeRatio = "reserveToChargeRatio";

    // Weiner: we don't know the exact point when we ran out of reclaimable memory.

    /// <summary>Reservations admitted (one per transaction attempt).</summary>
    public const string Reservations = "reservations";

    /// <summary>Reservations that TryReserve refused, so that ReserveAsync reclaimed (in the caller) and, if that was not enough, queued.</summary>
    public const string ReservationsNotAdmittedAtOnce = "reservationsNotAdmittedAtOnce";

    /// <summary>Reservations that queued: direct reclaim gave up and ReserveAsync did not complete synchronously.</summary>
    public const string ReservationWaits = "reservationWaits";

    /// <summary>
    /// Reservation waits that began (after direct reclaim gave up) while the page cache still reported at least the
    /// reservation's shortfall as reclaimable.
    /// </summary>
    public const string ReservationWaitsWhileReclaimable = "reservationWaitsWhileReclaimable";

    /// <summary>Reservation waits that began while the page cache still reported any reclaimable bytes at all.</summary>
    public const string ReservationWaitsWithAnyReclaimable = "reservationWaitsWithAnyReclaimable";

    /// <summary>The mean of the page cache's reclaimable bytes at the moments reservation waits began.</summary>
    public const string ReclaimableBytesAtWaitMean = "reclaimableBytesAtWaitMean";

    // The BCL's tools.

    /// <summary>memoryfailpoint: InsufficientMemoryException from the fail point (each followed by a 20 ms sleep).</summary>
    public const string FailPointRefusals = "failPointRefusals";

    /// <summary>ratelimiter: acquisitions that queued.</summary>
    public const string LimiterWaits = "limiterWaits";

    /// <summary>ratelimiter: permits (bytes) acquired and not used by the transaction.</summary>
    public const string UnusedPermitBytes = "unusedPermitBytes";

    // The page cache.

    /// <summary>Dirty pages written to the file (by reclaim or the flusher).</summary>
    public const string PagesWritten = "pagesWritten";

    /// <summary>fsync calls.</summary>
    public const string Fsyncs = "fsyncs";

    /// <summary>Clean pages dropped by reclaim (cheap).</summary>
    public const string CleanPagesDropped = "cleanPagesDropped";

    /// <summary>Dirty pages written back, fsync'd and dropped by reclaim (dear).</summary>
    public const string DirtyPagesDropped = "dirtyPagesDropped";

    /// <summary>Pages in the cache when the workers ended.</summary>
    public const string CachedPagesAtEnd = "cachedPagesAtEnd";
}
