using System.Diagnostics.CodeAnalysis;
using BenchmarkDotNet.Attributes;

namespace Headroom.Benchmarks;

/// <summary>
/// BenchmarkDotNet mode: an uncontended 256 KiB reservation taken and disposed, against preallocating the same
/// 256 KiB as 64 × 4 KiB buffers rented from the shared array pool and returned. The budget is 1 GiB, so the
/// reservation is never refused. Public and not sealed because BenchmarkDotNet derives its runner from this class.
/// </summary>
[MemoryDiagnoser]
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "BenchmarkDotNet owns the instance's lifetime; [GlobalCleanup] disposes the budget.")]
public class ReserveVsArrayPoolBenchmarks
{
    private const long GiB = 1L << 30;

    private readonly MemoryBudget _budget = new(GiB);

    [Benchmark(Baseline = true, Description = "arraypool 64x4KiB rent+return")]
    [SuppressMessage("Performance", "CA1822:Mark members as static",
        Justification = "BenchmarkDotNet runs instance methods only; the shared pool is the state.")]
    public bool PooledRentReturn() => PooledPreallocation.RentThenReturn();

    [Benchmark(Description = "reserve+dispose 256KiB")]
    public bool ReserveDispose()
    {
        if (!_budget.TryReserve(PooledPreallocation.TotalBytes, out MemoryReservation? reservation))
        {
            return false;
        }

        reservation.Dispose();
        return true;
    }

    [GlobalCleanup]
    public void Cleanup() => _budget.Dispose();
}
