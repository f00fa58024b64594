namespace Headroom.Benchmarks;

/// <summary>
/// Quick mode's round bodies: one plain for-loop per operation, all of the same shape, so a case and its baseline pay
/// the same loop overhead and one delegate call per round (not per op). Each returns how many ops succeeded, which
/// keeps the work observable and lets the runner check that nothing was refused.
/// </summary>
internal static class Loops
{
    public static long CheckedCasAddSub(CheckedCasCounter counter, long bytes, long iterations)
    {
        long done = 0;
        for (long i = 0; i < iterations; i++)
        {
            if (counter.AddThenSubtract(bytes))
            {
                done++;
            }
        }

        return done;
    }

    public static long TryChargeUncharge(MemoryBudget budget, long bytes, long iterations)
    {
        long done = 0;
        for (long i = 0; i < iterations; i++)
        {
            if (budget.TryCharge(bytes, AllocationMode.NoWait))
            {
                budget.Uncharge(bytes);
                done++;
            }
        }

        return done;
    }

    public static long TryReserveDispose(MemoryBudget budget, long bytes, long iterations)
    {
        long done = 0;
        for (long i = 0; i < iterations; i++)
        {
            if (budget.TryReserve(bytes, out MemoryReservation? reservation))
            {
                reservation.Dispose();
                done++;
            }
        }

        return done;
    }

    public static long DrawUncharge(MemoryReservation reservation, long bytes, long iterations)
    {
        long done = 0;
        for (long i = 0; i < iterations; i++)
        {
            if (reservation.TryCharge(bytes))
            {
                reservation.Budget.Uncharge(bytes);
                done++;
            }
        }

        return done;
    }

    public static long FloorReserveDispose(ReservationFloor floor, long bytes, long iterations)
    {
        long done = 0;
        for (long i = 0; i < iterations; i++)
        {
            if (floor.ReserveThenDispose(bytes))
            {
                done++;
            }
        }

        return done;
    }

    public static long PooledRentReturn(long iterations)
    {
        long done = 0;
        for (long i = 0; i < iterations; i++)
        {
            if (PooledPreallocation.RentThenReturn())
            {
                done++;
            }
        }

        return done;
    }
}
