using System.Diagnostics;
using Headroom.Lab.Running;

namespace Headroom.Lab.Results;

/// <summary>Turns the runs of one policy (one per repeat) into its row: the metrics of results.json and the table.</summary>
internal static class Summary
{
    public static PolicyResult Summarise(string policy, IReadOnlyList<RunOutcome> repeats)
    {
        long operations = repeats.Sum(r => r.Run.Operations);
        double seconds = repeats.Sum(r => r.Elapsed.TotalSeconds);
        double cpuNs = repeats.Sum(r => r.CpuTime.TotalMilliseconds * 1e6);
        long[] ticks = [.. repeats.SelectMany(r => r.Run.LatencyTicks())];
        Array.Sort(ticks);

        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (RunOutcome r in repeats)
        {
            foreach (KeyValuePair<string, double> figure in r.Run.Figures)
            {
                // Figures add up over repeats except ratios and means, which a scenario names ...PerCall/...Ns: those average.
                bool mean = figure.Key.EndsWith("PerCall", StringComparison.Ordinal) || figure.Key.EndsWith("Ns", StringComparison.Ordinal);
                figures[figure.Key] = figures.TryGetValue(figure.Key, out double old)
                    ? (mean ? old + (figure.Value / repeats.Count) : old + figure.Value)
                    : (mean ? figure.Value / repeats.Count : figure.Value);
            }
        }

        var metrics = new PolicyMetrics
        {
            Operations = operations,
            ThroughputPerSec = seconds > 0 ? operations / seconds : 0,
            LatencyP50Us = PercentileUs(ticks, 0.50),
            LatencyP99Us = PercentileUs(ticks, 0.99),
            LatencyMaxUs = ticks.Length == 0 ? 0 : ToUs(ticks[^1]),
            MidTransactionFailures = repeats.Sum(r => r.Run.MidTransactionFailures),
            Rollbacks = repeats.Sum(r => r.Run.Rollbacks),
            Stalls = repeats.Count(r => r.Run.IsStalled),
            OomKills = repeats.Sum(r => r.Run.OomKills),
            OomKillsNotCause = repeats.Sum(r => r.Run.OomKillsNotCause),
            CanaryWarnings = repeats.Sum(r => r.Run.CanaryWarnings),
            PeakUsedBytes = repeats.Max(r => r.Run.PeakUsedBytes),
            ReservedUnusedBytes = repeats.Sum(r => r.Run.ReservedUnusedBytes),
            CpuNsPerOp = operations > 0 ? cpuNs / operations : 0,
        };

        return new PolicyResult
        {
            Name = policy,
            Completed = repeats.All(r => r.Completed),
            Stalled = repeats.Any(r => r.Run.IsStalled),
            Metrics = metrics,
            Figures = figures,
            StallReport = repeats.Select(r => r.Run.StallReport).FirstOrDefault(s => s is not null),
            Error = repeats.Select(r => r.Error).FirstOrDefault(e => e is not null),
            DeadlineReached = repeats.Any(r => r.DeadlineReached),
            ThreadsLeftRunning = [.. repeats.SelectMany(r => r.ThreadsLeftRunning)],
            ElapsedSeconds = seconds,
            Repeats = repeats.Count,
            UsedAtEndBytes = repeats.Max(r => r.UsedAtEnd),
            ReservedAtEndBytes = repeats.Max(r => r.ReservedAtEnd),
            NotRunReason = repeats.Select(r => r.Run.NotRunReason).FirstOrDefault(s => s is not null),
        };
    }

    /// <summary>Nearest-rank percentile of sorted Stopwatch ticks, in microseconds.</summary>
    internal static double PercentileUs(long[] sortedTicks, double p)
    {
        if (sortedTicks.Length == 0)
        {
            return 0;
        }

        int rank = (int)Math.Ceiling(p * sortedTicks.Length) - 1;
        return ToUs(sortedTicks[Math.Clamp(rank, 0, sortedTicks.Length - 1)]);
    }

    internal static double ToUs(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
}
