using System.Globalization;
using Headroom.Lab.Results;

namespace Headroom.Lab.Report;

/// <summary>The cells of a scenario's table, the same for the console and report.md.</summary>
internal static class ResultCells
{
    public static readonly string[] Header =
    [
        "policy", "result", "ops", "ops/s", "p50 µs", "p99 µs", "max µs", "mid-tx fail", "rollbacks", "stalls",
        "OOM kills (not cause)", "canary", "peak Used", "reserved unused", "CPU µs/op",
    ];

    public static string[] Cells(PolicyResult p)
    {
        PolicyMetrics m = p.Metrics;
        return
        [
            p.Name,
            Outcome(p),
            Count(m.Operations),
            Number(m.ThroughputPerSec),
            Number(m.LatencyP50Us),
            Number(m.LatencyP99Us),
            Number(m.LatencyMaxUs),
            Count(m.MidTransactionFailures),
            Count(m.Rollbacks),
            Count(m.Stalls),
            $"{Count(m.OomKills)} ({Count(m.OomKillsNotCause)})",
            Count(m.CanaryWarnings),
            Bytes(m.PeakUsedBytes),
            Bytes(m.ReservedUnusedBytes),
            Number(m.CpuNsPerOp / 1000),
        ];
    }

    public static string Outcome(PolicyResult p) =>
        p.NotRunReason is not null ? "not run here" : p.Figures.TryGetValue(FigureNames.Survived, out double survived) && survived == 0 ? "killed" : p.Stalled ? "stalled" : p.Error is not null ? "error" : p.DeadlineReached ? "deadline" : p.ThreadsLeftRunning.Count > 0 ? "hung" : "completed";

    /// <summary>The scenario's own figures of a policy, as "name value" pairs.</summary>
    public static string Figures(PolicyResult p) =>
        string.Join(", ", p.Figures.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} {Number(f.Value)}"));

    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Number(double value) => value switch
    {
        0 => "0",
        >= 1000 or <= -1000 => value.ToString("N0", CultureInfo.InvariantCulture),
        >= 10 or <= -10 => value.ToString("F1", CultureInfo.InvariantCulture),
        _ => value.ToString("0.###", CultureInfo.InvariantCulture),
    };

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F1} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };
}
