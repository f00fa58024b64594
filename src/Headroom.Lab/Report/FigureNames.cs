namespace Headroom.Lab.Report;

/// <summary>
/// The names the report's claims read: scenarios, variants and policies as results.json spells them, and the figures
/// (<see cref="Running.PolicyRun.Figure"/>) that scenarios emit beside the standard metrics. A scenario and the claim
/// rules agree through these constants only; a figure a scenario does not emit makes its claim "not measured".
/// </summary>
internal static class FigureNames
{
    // ---- Scenarios and variants ----

    /// <summary>Scenario 4, the XFS debate.</summary>
    public const string Transactions = "transactions";

    /// <summary>Transactions with memory to spare: the question is overhead.</summary>
    public const string Ample = "ample";

    /// <summary>Transactions with memory short: the question is progress.</summary>
    public const string Tight = "tight";

    /// <summary>Scenario 1, the 3.19 regression.</summary>
    public const string TooSmallToFail = "too-small-to-fail";

    /// <summary>Scenario 2, GFP_NOFS.</summary>
    public const string ReclaimRecursion = "reclaim-recursion";

    /// <summary>Scenario 3, the December 2014 report.</summary>
    public const string OomLockDeadlock = "oom-lock-deadlock";

    /// <summary>Scenario 5, GFP_ATOMIC.</summary>
    public const string AtomicReserve = "atomic-reserve";

    // ---- Policies of transactions ----
    public const string NofailLoop = "nofail-loop";
    public const string Nofail = "nofail";
    public const string Preallocate = "preallocate";
    public const string Mempool = "mempool";
    public const string ReservationWatermark = "reservation-watermark";
    public const string ReservationTokens = "reservation-tokens";
    public const string MayfailRollback = "mayfail-rollback";
    public const string MemoryFailPoint = "memoryfailpoint";
    public const string RateLimiter = "ratelimiter";

    // ---- Policies of oom-lock-deadlock ----
    public const string SingleVictim = "single-victim";
    public const string KillTimeout = "kill-timeout";
    public const string Reaper = "reaper";
    public const string Reservation = "reservation";

    // ---- Figures emitted by transactions (PolicyRun.Figure / AddFigure) ----

    /// <summary>
    /// reservation-watermark and reservation-tokens: mean nanoseconds of one admission and release of a transaction's
    /// worst case (TryReserve or ReserveAsync, then Dispose) that was granted without waiting, measured in the run.
    /// </summary>
    public const string ReserveNsPerCall = "reserveNsPerCall";

    /// <summary>
    /// Every transactions policy that charges buffers: mean nanoseconds of one charge that was granted without waiting
    /// plus its uncharge (one buffer), on the same budget in the same run; the yardstick for <see cref="ReserveNsPerCall"/>.
    /// </summary>
    public const string ChargeNsPerCall = "chargeNsPerCall";

    /// <summary>reservation-watermark and reservation-tokens: reservations admitted (one per transaction attempt).</summary>
    public const string Reservations = "reservations";

    /// <summary>reservation-watermark and reservation-tokens: reservations that were not admitted at once and waited.</summary>
    public const string ReservationWaits = "reservationWaits";

    /// <summary>
    /// Of <see cref="ReservationWaits"/>: those that began waiting while the budget's reclaimers still reported at least
    /// the reservation's shortfall as reclaimable (Weiner's "we don't KNOW when we ran out of reclaimable memory").
    /// </summary>
    public const string ReservationWaitsWhileReclaimable = "reservationWaitsWhileReclaimable";

    /// <summary>nofail-loop: retries of XFS's loop (each a fixed 20 ms sleep); its warnings every 100 retries are canary warnings.</summary>
    public const string NofailLoopRetries = "nofailLoopRetries";

    /// <summary>mempool: element allocations that waited for an element to come back to the pool.</summary>
    public const string MempoolWaits = "mempoolWaits";

    // ---- Figures emitted by oom-lock-deadlock ----

    /// <summary>Victims chosen after the killer gave up on an earlier victim (kill-timeout's "next victim").</summary>
    public const string NextVictimKills = "nextVictimKills";

    /// <summary>Of <see cref="NextVictimKills"/>: those that were not the consumer that caused the shortage.</summary>
    public const string NextVictimKillsNotCause = "nextVictimKillsNotCause";

    // ---- Figures emitted by container ----

    /// <summary>container: 1 when the child process ended its work by itself, 0 when the kernel killed it; the table's result reads "killed".</summary>
    public const string Survived = "survived";

    // ---- Figures emitted by atomic-reserve ----

    /// <summary>Interrupt-like NoWait High charges attempted by the timer.</summary>
    public const string AtomicAttempts = "atomicAttempts";

    /// <summary>Of <see cref="AtomicAttempts"/>: those refused.</summary>
    public const string AtomicFailures = "atomicFailures";
}
