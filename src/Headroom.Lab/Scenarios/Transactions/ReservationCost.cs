using System.Diagnostics;

namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>
/// Chinner: "in the simplest case, a reservation would be represented as an increased value in a single integer
/// variable". Measured in-process, on a quiet budget of its own, beside the baseline of a charge of the same size in
/// the same run: ReserveAsync + Dispose against ChargeAsync + Uncharge, nanoseconds per pair.
/// </summary>
internal static class ReservationCost
{
    private const int Iterations = 20_000;

    /// <summary>Rounds of both, interleaved; the fastest round of each counts (the others measured the machine's other tenants).</summary>
    private const int Rounds = 5;

    public static async Task<(double ReserveNs, double ChargeNs)> MeasureAsync(long bytes, ReservationMode mode)
    {
        using var quiet = new MemoryBudget(new MemoryBudgetOptions { Name = "reservation-cost", Capacity = 64 * bytes });
        double reserve = double.MaxValue;
        double charge = double.MaxValue;
        for (int round = 0; round <= Rounds; round++) // round 0 warms up
        {
            double r = await ReserveAsync(quiet, bytes, mode, Iterations).ConfigureAwait(false);
            double c = await ChargeAsync(quiet, bytes, Iterations).ConfigureAwait(false);
            if (round > 0)
            {
                reserve = Math.Min(reserve, r);
                charge = Math.Min(charge, c);
            }
        }

        return (reserve, charge);
    }

    private static async Task<double> ReserveAsync(MemoryBudget budget, long bytes, ReservationMode mode, int iterations)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < iterations; i++)
        {
            MemoryReservation reservation = await budget.ReserveAsync(bytes, mode).ConfigureAwait(false);
            reservation.Dispose();
        }

        return NanosecondsEach(start, iterations);
    }

    private static async Task<double> ChargeAsync(MemoryBudget budget, long bytes, int iterations)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < iterations; i++)
        {
            await budget.ChargeAsync(bytes, AllocationMode.NoFail).ConfigureAwait(false);
            budget.Uncharge(bytes);
        }

        return NanosecondsEach(start, iterations);
    }

    private static double NanosecondsEach(long start, int iterations) =>
        Stopwatch.GetElapsedTime(start).TotalNanoseconds / iterations;
}
