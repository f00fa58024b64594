namespace Headroom.Benchmarks;

/// <summary>Quick mode's cases; add a comparison by adding an entry (and, for a new operation, a loop in <see cref="Loops"/>).</summary>
internal static class QuickCases
{
    private const long GiB = 1L << 30; // large enough that a charge or a reservation is never refused
    private const long FourKiB = 4096;
    private const long QuarterMiB = PooledPreallocation.TotalBytes; // 256 KiB: the amount the pooled baseline preallocates
    private const string CheckedCas = "checked-cas add+sub";
    private const string Pooled = "arraypool 64x4KiB rent+return";

    public static IReadOnlyList<QuickCase> All { get; } =
    [
        new("try-charge+uncharge 4KiB", 1, CheckedCas, ChargeUncharge4KiB, CasAddSub(FourKiB)),
        new("try-charge+uncharge 4KiB", 2, CheckedCas, ChargeUncharge4KiB, CasAddSub(FourKiB)),

        // The row above goes through per-thread stocks (a 1 GiB budget has them); this one is the exact path, in a
        // budget just below the 1 MiB where stocks begin, for the cost the stocks take away.
        new("try-charge+uncharge 4KiB, exact (no stocks)", 1, CheckedCas, ExactChargeUncharge4KiB, CasAddSub(FourKiB)),
        new("try-charge+uncharge 4KiB, exact (no stocks)", 2, CheckedCas, ExactChargeUncharge4KiB, CasAddSub(FourKiB)),
        new("reserve+dispose 256KiB", 1, CheckedCas, ReserveDispose256KiB, CasAddSub(QuarterMiB)),
        new("reserve+dispose 256KiB", 2, CheckedCas, ReserveDispose256KiB, CasAddSub(QuarterMiB)),
        new("reserve+dispose 256KiB", 1, Pooled, ReserveDispose256KiB, PooledRentReturn),
        new("reserve+dispose 256KiB", 2, Pooled, ReserveDispose256KiB, PooledRentReturn),

        new("draw+uncharge 4KiB", 1, CheckedCas, DrawUncharge4KiB, CasAddSub(FourKiB)),
        new("draw+uncharge 4KiB", 2, CheckedCas, DrawUncharge4KiB, CasAddSub(FourKiB)),

        // A reference line, not Headroom: what any reservation costs at the least (see ReservationFloor).
        new("reservation floor 256KiB", 1, CheckedCas, FloorReserveDispose256KiB, CasAddSub(QuarterMiB)),

        // Issue 11's target: at most 1.35x the floor, measured in the same run.
        new("reserve+dispose 256KiB", 1, "reservation floor 256KiB", ReserveDispose256KiB, FloorReserveDispose256KiB),

        // Ambient scopes must cost nothing while none is open, also in a process (and in code tiered up) that uses them.
        new("try-charge+uncharge 4KiB, scopes used", 1, CheckedCas, ChargeUnchargeAfterScope4KiB, CasAddSub(FourKiB)),

        // Issue 13: the exact path with nobody listening to the meter or the event source "Headroom" (checked), then,
        // last because the listeners stay for the rest of the process, with every instrument and event enabled.
        new("try-charge+uncharge 4KiB, exact, telemetry off", 1, CheckedCas, QuietExactChargeUncharge4KiB, CasAddSub(FourKiB)),

        .. RentCases.All,
        .. TransportCases.All,
        .. PoolCases.All,

        new("try-charge+uncharge 4KiB, exact, telemetry on", 1, CheckedCas, ListenedExactChargeUncharge4KiB, CasAddSub(FourKiB)),
    ];

    private static RoundBody ChargeUncharge4KiB()
    {
        var budget = new MemoryBudget(GiB);
        return n => Loops.TryChargeUncharge(budget, FourKiB, n);
    }

    /// <remarks>Watermarks at zero, so that two threads' 4 KiB never meet the low watermark of a budget this small.</remarks>
    private static RoundBody ExactChargeUncharge4KiB()
    {
        var budget = new MemoryBudget(new MemoryBudgetOptions { Capacity = (1L << 20) - 1, MinWatermark = 0, LowWatermark = 0, HighWatermark = 0 });
        return n => Loops.TryChargeUncharge(budget, FourKiB, n);
    }

    private static RoundBody QuietExactChargeUncharge4KiB()
    {
        TelemetryListeners.AssertNoneListening();
        return ExactChargeUncharge4KiB();
    }

    private static RoundBody ListenedExactChargeUncharge4KiB()
    {
        TelemetryListeners.ListenToEverything();
        return ExactChargeUncharge4KiB();
    }

    /// <summary>The charge fast path in a process that uses ambient scopes, with none open on this flow.</summary>
    private static RoundBody ChargeUnchargeAfterScope4KiB()
    {
        var budget = new MemoryBudget(GiB);
        if (!budget.TryReserve(FourKiB, out MemoryReservation? reservation))
        {
            throw new InvalidOperationException("The scope case's reservation was not admitted.");
        }

        using (reservation.Enter())
        {
        }

        reservation.Dispose();
        return n => Loops.TryChargeUncharge(budget, FourKiB, n);
    }

    /// <remarks>1 GiB less its ~4 MiB min reserve admits far more than two threads' 256 KiB at once.</remarks>
    private static RoundBody ReserveDispose256KiB()
    {
        var budget = new MemoryBudget(GiB);
        return n => Loops.TryReserveDispose(budget, QuarterMiB, n);
    }

    /// <remarks>
    /// G1's hot path: a charge inside a Tokens reservation, which draws from it, then the uncharge (to ordinary memory).
    /// Accounting only, so the reservation can be large enough (half a PiB) never to run dry; both threads draw from it.
    /// </remarks>
    private static RoundBody DrawUncharge4KiB()
    {
        var budget = new MemoryBudget(1L << 50);
        if (!budget.TryReserve(1L << 49, out MemoryReservation? reservation, ReservationMode.Tokens))
        {
            throw new InvalidOperationException("The draw case's reservation was not admitted.");
        }

        return n => Loops.DrawUncharge(reservation, FourKiB, n);
    }

    private static RoundBody FloorReserveDispose256KiB()
    {
        var floor = new ReservationFloor(GiB);
        return n => Loops.FloorReserveDispose(floor, QuarterMiB, n);
    }

    private static Func<RoundBody> CasAddSub(long bytes) => () =>
    {
        var counter = new CheckedCasCounter(GiB);
        return n => Loops.CheckedCasAddSub(counter, bytes, n);
    };

    private static RoundBody PooledRentReturn() => Loops.PooledRentReturn;
}
