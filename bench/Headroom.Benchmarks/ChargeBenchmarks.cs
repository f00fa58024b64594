using System.Diagnostics.CodeAnalysis;
using BenchmarkDotNet.Attributes;

namespace Headroom.Benchmarks;

/// <summary>
/// BenchmarkDotNet mode: the uncontended charge fast path against the bare checked compare-and-swap pair it is
/// built on. The budget is 1 GiB, so a 4 KiB charge is never refused and never nears the low watermark.
/// Public and not sealed because BenchmarkDotNet derives its runner from this class.
/// </summary>
[MemoryDiagnoser]
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "BenchmarkDotNet owns the instance's lifetime; [GlobalCleanup] disposes the budget.")]
public class ChargeBenchmarks
{
    private const long GiB = 1L << 30;
    private const long FourKiB = 4096;

    private readonly MemoryBudget _budget = new(GiB);
    private readonly CheckedCasCounter _counter = new(GiB);

    [Benchmark(Baseline = true, Description = "checked-cas add+sub")]
    public bool CheckedCasAddSub() => _counter.AddThenSubtract(FourKiB);

    [Benchmark(Description = "try-charge+uncharge 4KiB")]
    public bool TryChargeUncharge()
    {
        if (!_budget.TryCharge(FourKiB, AllocationMode.NoWait))
        {
            return false;
        }

        _budget.Uncharge(FourKiB);
        return true;
    }

    [GlobalCleanup]
    public void Cleanup() => _budget.Dispose();
}
