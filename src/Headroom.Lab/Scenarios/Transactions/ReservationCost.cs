using System.Diagnostics;

namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>
/// Chinner: "in the simplest case, a reservation would be represented as an increased value in a single integer
/// variable". Measured in-process, on a quiet budget of its own, beside the baseline of a charge of the same size in
/// the same run: ReserveAsync + Dispose against ChargeAsync + Uncharge, nanoseconds per pair.
/// </summary>
internal static class ReservationCost
{
    private const int Warmup = 2_000;
    private const int Iterations = 50_000;

    public static async Task<(double ReserveNs, double ChargeNs)> MeasureAsync(long bytes, ReservationMode mode)
    {
        using var quiet = new MemoryBudget(new MemoryBudgetOptions { Name = "reservation-cost", Capacity = 64 * bytes });
        await ReserveAsync(quiet, bytes, mode, Warmup).ConfigureAwait(false);
        await ChargeAsync(quiet, bytes, Warmup).ConfigureAwait(false);
        double reserve = await ReserveAsync(quiet, bytes, mode, Iterations).ConfigureAwait(false);
        double charge = await ChargeAsync(quiet, bytes, Iterations).ConfigureAwait(false);
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
