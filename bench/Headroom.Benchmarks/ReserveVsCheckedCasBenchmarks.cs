using System.Diagnostics.CodeAnalysis;
using BenchmarkDotNet.Attributes;

namespace Headroom.Benchmarks;

/// <summary>
/// BenchmarkDotNet mode: an uncontended 256 KiB reservation taken and disposed, against the bare checked
/// compare-and-swap pair on the same amount, with the least any reservation costs (<see cref="ReservationFloor"/>) as a
/// reference line. The budget is 1 GiB (admitting up to Capacity − Min, about 1020 MiB),
/// so the reservation is never refused. Public and not sealed because BenchmarkDotNet derives its runner from this class.
/// </summary>
[MemoryDiagnoser]
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "BenchmarkDotNet owns the instance's lifetime; [GlobalCleanup] disposes the budget.")]
public class ReserveVsCheckedCasBenchmarks
{
    private const long GiB = 1L << 30;
    private const long QuarterMiB = PooledPreallocation.TotalBytes;

    private readonly MemoryBudget _budget = new(GiB);
    private readonly CheckedCasCounter _counter = new(GiB);
    private readonly ReservationFloor _floor = new(GiB);

    [Benchmark(Baseline = true, Description = "checked-cas add+sub")]
    public bool CheckedCasAddSub() => _counter.AddThenSubtract(QuarterMiB);

    [Benchmark(Description = "reserve+dispose 256KiB")]
    public bool ReserveDispose()
    {
        if (!_budget.TryReserve(QuarterMiB, out MemoryReservation? reservation))
        {
            return false;
        }

        reservation.Dispose();
        return true;
    }

    [Benchmark(Description = "reservation floor 256KiB")]
    public bool FloorReserveDispose() => _floor.ReserveThenDispose(QuarterMiB);

    [GlobalCleanup]
    public void Cleanup() => _budget.Dispose();
}
