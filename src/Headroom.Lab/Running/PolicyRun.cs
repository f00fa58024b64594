using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Headroom.Lab.Running;

/// <summary>
/// What one (scenario, variant, policy) run records: the scenario calls these from any thread; the runner reads them
/// when the run ends and turns them into the table row and results.json's metrics.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The ThreadLocal only caches lists that _latencyLists also holds; it owns no unmanaged state, and readers use the lists after the run's threads ended.")]
internal sealed class PolicyRun
{
    private readonly ConcurrentQueue<List<long>> _latencyLists = new();
    private readonly ThreadLocal<List<long>> _latencies;
    private readonly ConcurrentDictionary<string, double> _figures = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<MemoryBudget> _watched = [];
    private readonly ConcurrentDictionary<string, string> _activities = new(StringComparer.Ordinal);
    private long _operations;
    private long _midTransactionFailures;
    private long _rollbacks;
    private long _oomKills;
    private long _oomKillsNotCause;
    private long _canaryWarnings;
    private long _reservedUnusedBytes;
    private long _peakUsedBytes;
    private string? _stallReport;
    private string? _notRunReason;

    public PolicyRun(string scenario, string? variant, string policy, LabSettings settings)
    {
        Scenario = scenario;
        Variant = variant;
        Policy = policy;
        Settings = settings;
        _latencies = new ThreadLocal<List<long>>(() =>
        {
            var list = new List<long>();
            _latencyLists.Enqueue(list);
            return list;
        });
        Logger = new CanaryLogger(this);
    }

    public string Scenario { get; }

    public string? Variant { get; }

    public string Policy { get; }

    public LabSettings Settings { get; }

    /// <summary>Operations completed so far: the live display and the watchdog read it.</summary>
    public long Operations => Volatile.Read(ref _operations);

    /// <summary>
    /// A random stream for one worker: the same (seed, scenario, variant, stream) gives the same numbers to every
    /// policy, so that the workload does not depend on the policy.
    /// </summary>
    public Random NewRandom(int stream) =>
        new(HashCode.Combine(Settings.Seed, StableHash(Scenario), StableHash(Variant ?? string.Empty), stream));

    /// <summary>A timestamp to pass to <see cref="Completed"/>.</summary>
    public static long Start() => Stopwatch.GetTimestamp();

    /// <summary>One operation completed; its latency runs from <paramref name="startedTimestamp"/> to now.</summary>
    public void Completed(long startedTimestamp)
    {
        _latencies.Value!.Add(Stopwatch.GetTimestamp() - startedTimestamp);
        Interlocked.Increment(ref _operations);
    }

    /// <summary>One operation completed elsewhere (a child process) with <paramref name="latency"/>.</summary>
    public void Completed(TimeSpan latency)
    {
        _latencies.Value!.Add((long)(latency.TotalSeconds * Stopwatch.Frequency));
        Interlocked.Increment(ref _operations);
    }

    /// <summary>The machine cannot run this policy (no cgroup, not root): reported as "not run here" with the reason, never dropped.</summary>
    public void NotRun(string reason) => Interlocked.CompareExchange(ref _notRunReason, reason, null);

    public string? NotRunReason => Volatile.Read(ref _notRunReason);

    /// <summary>An allocation failed in the middle of an operation that had already changed state.</summary>
    public void MidTransactionFailure() => Interlocked.Increment(ref _midTransactionFailures);

    /// <summary>An operation was rolled back (to be retried or abandoned).</summary>
    public void Rollback() => Interlocked.Increment(ref _rollbacks);

    /// <summary>The OOM killer chose a victim; <paramref name="wasCause"/> says whether that victim caused the shortage.</summary>
    public void OomKill(bool wasCause)
    {
        Interlocked.Increment(ref _oomKills);
        if (!wasCause)
        {
            Interlocked.Increment(ref _oomKillsNotCause);
        }
    }

    /// <summary>The stall canary warned (the runner also counts the library's own AllocationStall log events).</summary>
    public void CanaryWarning() => Interlocked.Increment(ref _canaryWarnings);

    /// <summary>Bytes that were held in reserve (preallocated, reserved, pooled) and never used by the operation.</summary>
    public void ReservedUnused(long bytes) => Interlocked.Add(ref _reservedUnusedBytes, bytes);

    /// <summary>A figure of the scenario's own, kept in results.json beside the standard metrics (the last value wins).</summary>
    public void Figure(string name, double value) => _figures[name] = value;

    /// <summary>Adds to a figure of the scenario's own.</summary>
    public void AddFigure(string name, double value) => _figures.AddOrUpdate(name, value, (_, old) => old + value);

    /// <summary>
    /// The logger to give the run's budgets (<see cref="MemoryBudgetOptions.Logger"/>): it counts the library's stall
    /// canary as this run's canary warnings and keeps the library's last messages for the stall report.
    /// </summary>
    public CanaryLogger Logger { get; }

    /// <summary>Creates a budget that logs to <see cref="Logger"/> (unless the options name another) and is watched.</summary>
    public MemoryBudget CreateBudget(MemoryBudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Logger ??= Logger;
        var budget = new MemoryBudget(options);
        Watch(budget);
        return budget;
    }

    /// <summary>
    /// Says what <paramref name="who"/> (a thread or task of the scenario) is doing now, before it may block: the
    /// watchdog's stall report quotes the last word of each. Cheap enough for every blocking point, not for hot loops.
    /// </summary>
    public void Activity(string who, string doing) => _activities[who] = doing;

    /// <summary>Gets what each of the scenario's threads last said it was doing.</summary>
    public IReadOnlyDictionary<string, string> Activities => _activities;

    /// <summary>The runner samples this budget's Used, Reserved and watermarks while the run goes on (peak Used, charts).</summary>
    public void Watch(MemoryBudget budget) => _watched.Add(budget);

    /// <summary>Declares the run stalled, with who was blocked on what (from the library's own state). The first report wins.</summary>
    public void Stalled(string report) => Interlocked.CompareExchange(ref _stallReport, report, null);

    public bool IsStalled => Volatile.Read(ref _stallReport) is not null;

    public string? StallReport => Volatile.Read(ref _stallReport);

    public IReadOnlyCollection<MemoryBudget> Watched => _watched;

    public IReadOnlyDictionary<string, double> Figures => _figures;

    public long MidTransactionFailures => Volatile.Read(ref _midTransactionFailures);

    public long Rollbacks => Volatile.Read(ref _rollbacks);

    public long OomKills => Volatile.Read(ref _oomKills);

    public long OomKillsNotCause => Volatile.Read(ref _oomKillsNotCause);

    public long CanaryWarnings => Volatile.Read(ref _canaryWarnings);

    public long ReservedUnusedBytes => Volatile.Read(ref _reservedUnusedBytes);

    public long PeakUsedBytes => Volatile.Read(ref _peakUsedBytes);

    /// <summary>Raises the peak; the runner's sampler calls it, and a scenario may too at a moment it knows is a peak.</summary>
    public void ObserveUsed(long used)
    {
        long peak = Volatile.Read(ref _peakUsedBytes);
        while (used > peak)
        {
            long seen = Interlocked.CompareExchange(ref _peakUsedBytes, used, peak);
            if (seen == peak)
            {
                return;
            }

            peak = seen;
        }
    }

    /// <summary>Every recorded latency, in Stopwatch ticks, unsorted. Call after the run's threads ended.</summary>
    public long[] LatencyTicks() => [.. _latencyLists.SelectMany(l => l)];

    private static int StableHash(string text)
    {
        // string.GetHashCode is randomised per process; a seed must mean the same workload in every process.
        unchecked
        {
            int hash = (int)2166136261;
            foreach (char c in text)
            {
                hash = (hash ^ c) * 16777619;
            }

            return hash;
        }
    }
}
