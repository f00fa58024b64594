using System.Diagnostics;

namespace Headroom.Lab.Running;

/// <summary>One reading of a watched budget.</summary>
internal readonly record struct BudgetSample(double Seconds, string Budget, long Used, long Reserved, long Capacity, long Min, long Low, long High);

/// <summary>Reads every watched budget every few milliseconds: peak Used for the table, Used/Reserved/watermarks over time for the charts.</summary>
internal sealed class Sampler
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);
    private readonly PolicyRun _run;
    private readonly List<BudgetSample> _samples = [];
    private readonly long _started = Stopwatch.GetTimestamp();

    public Sampler(PolicyRun run) => _run = run;

    /// <summary>Gets the readings; read after <see cref="SampleAsync"/> ended.</summary>
    public IReadOnlyList<BudgetSample> Samples => _samples;

    public async Task SampleAsync(CancellationToken done)
    {
        using var timer = new PeriodicTimer(Tick);
        try
        {
            do
            {
                SampleOnce();
            }
            while (await timer.WaitForNextTickAsync(done).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (done.IsCancellationRequested)
        {
        }

        SampleOnce();
    }

    private void SampleOnce()
    {
        double seconds = Stopwatch.GetElapsedTime(_started).TotalSeconds;
        foreach (MemoryBudget budget in _run.Watched)
        {
            MemoryBudgetSnapshot s = budget.GetSnapshot();
            _run.ObserveUsed(s.Used);
            _samples.Add(new BudgetSample(seconds, s.Name, s.Used, s.Reserved, s.Capacity, s.Min, s.Low, s.High));
        }
    }
}
