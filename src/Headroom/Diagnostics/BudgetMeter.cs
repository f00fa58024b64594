using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace Headroom.Diagnostics;

/// <summary>
/// The instruments of one <see cref="Meter"/> named "Headroom" and the live budgets its observable instruments read,
/// named in the OpenTelemetry style (as ASP.NET Core names its <c>aspnetcore.memory_pool.*</c> metrics). Every
/// measurement carries the budget's name. Nothing here runs on a charge's fast path: the counters are added to where a
/// charge is refused, reclaim uncharges, the killer kills, the canary warns and a wait ends, each behind the
/// instrument's <see cref="Instrument.Enabled"/> check, and the gauges are read only when a listener collects.
/// </summary>
internal sealed class BudgetMeter
{
    internal const string MeterName = "Headroom";
    internal const string BudgetTag = "headroom.budget.name";
    internal const string StateTag = "headroom.memory.state";
    internal const string ModeTag = "headroom.allocation.mode";
    internal const string OutcomeTag = "headroom.memory.wait.outcome";

    /// <summary>One BudgetMeter per meter: a factory hands the same meter to every root that asks, and its instruments must exist once.</summary>
    private static readonly ConditionalWeakTable<Meter, BudgetMeter> ByMeter = [];

    /// <summary>The budgets the observable instruments report, held weakly: a budget nobody disposed stops being reported once it is collected.</summary>
    private readonly List<WeakReference<MemoryBudget>> _budgets = []; // guarded by itself

    private readonly Counter<long> _reclaimed;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _oomKills;
    private readonly Counter<long> _canaryWarnings;
    private readonly Histogram<double> _waitDuration;

    private BudgetMeter(Meter meter)
    {
        Meter = meter;
        meter.CreateObservableUpDownCounter("headroom.memory.limit", ObserveLimit, "By", "The budget's capacity.");
        meter.CreateObservableUpDownCounter("headroom.memory.usage", ObserveUsage, "By",
            "The budget's committed bytes by state: used (charged, less parked), reserved (promised, not drawn), stocked (in per-thread stocks), parked (returned buffers kept for reuse); the states add up to Committed.");
        meter.CreateObservableGauge("headroom.memory.utilization", ObserveUtilization, "1", "The budget's Used over its capacity.");
        _reclaimed = meter.CreateCounter<long>("headroom.memory.reclaimed", "By", "Bytes reclaimers really uncharged, counted at the budget each is registered on.");
        _refusals = meter.CreateCounter<long>("headroom.memory.refusals", "{refusal}", "Charges the budget refused after what their mode allows (reclaim, a bounded wait), by the caller's mode.");
        _oomKills = meter.CreateCounter<long>("headroom.memory.oom_kills", "{kill}", "Consumers the OOM killer cancelled, counted at the budget that was out of memory.");
        _canaryWarnings = meter.CreateCounter<long>("headroom.memory.canary_warnings", "{warning}", "Stall warnings the canary logged, counted at the oldest stalled waiter's budget.");
        _waitDuration = meter.CreateHistogram<double>("headroom.memory.wait.duration", "s",
            "How long charges and reservations waited in a budget's queue, by the caller's mode and how the wait ended (granted, cancelled, failed).",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300] });
    }

    /// <summary>Gets the shared meter of the budgets made without an <see cref="IMeterFactory"/>.</summary>
    internal static BudgetMeter Shared { get; } = new(new Meter(MeterName));

    internal Meter Meter { get; }

    /// <summary>Whether anyone listens to the wait histogram: a wait then records its end.</summary>
    internal bool ObservesWaits => _waitDuration.Enabled;

    /// <summary>The instruments on <paramref name="meter"/> (a root's factory's), or the shared ones without.</summary>
    internal static BudgetMeter For(Meter? meter)
    {
        if (meter is null)
        {
            return Shared;
        }

        lock (ByMeter)
        {
            if (!ByMeter.TryGetValue(meter, out BudgetMeter? existing))
            {
                existing = new BudgetMeter(meter);
                ByMeter.Add(meter, existing);
            }

            return existing;
        }
    }

    /// <summary>Starts reporting <paramref name="budget"/> (a root or a child) in the observable instruments.</summary>
    internal void Track(MemoryBudget budget)
    {
        var reference = new WeakReference<MemoryBudget>(budget);
        lock (_budgets)
        {
            _budgets.Add(reference);
        }
    }

    internal void Refused(MemoryBudget budget, AllocationMode mode)
    {
        if (_refusals.Enabled)
        {
            _refusals.Add(1, new KeyValuePair<string, object?>(BudgetTag, budget.Name), new KeyValuePair<string, object?>(ModeTag, ModeName(mode)));
        }
    }

    internal void Reclaimed(MemoryBudget budget, long bytes)
    {
        if (bytes > 0 && _reclaimed.Enabled)
        {
            _reclaimed.Add(bytes, new KeyValuePair<string, object?>(BudgetTag, budget.Name));
        }
    }

    internal void Killed(MemoryBudget outOfMemory)
    {
        if (_oomKills.Enabled)
        {
            _oomKills.Add(1, new KeyValuePair<string, object?>(BudgetTag, outOfMemory.Name));
        }
    }

    internal void CanaryWarned(MemoryBudget budget)
    {
        if (_canaryWarnings.Enabled)
        {
            _canaryWarnings.Add(1, new KeyValuePair<string, object?>(BudgetTag, budget.Name));
        }
    }

    internal void WaitEnded(MemoryBudget budget, AllocationMode mode, TimeSpan waited, string outcome)
    {
        if (_waitDuration.Enabled)
        {
            _waitDuration.Record(waited.TotalSeconds, new KeyValuePair<string, object?>(BudgetTag, budget.Name),
                new KeyValuePair<string, object?>(ModeTag, ModeName(mode)), new KeyValuePair<string, object?>(OutcomeTag, outcome));
        }
    }

    /// <summary>A mode as an attribute value: snake case, as OpenTelemetry writes values, and without allocating.</summary>
    internal static string ModeName(AllocationMode mode) => mode switch
    {
        AllocationMode.NoWait => "no_wait",
        AllocationMode.MayFail => "may_fail",
        AllocationMode.RetryMayFail => "retry_may_fail",
        AllocationMode.NoFail => "no_fail",
        _ => "unknown",
    };

    /// <summary>The budgets to report now: alive and not disposed; the rest are forgotten.</summary>
    private List<MemoryBudget> Live()
    {
        var live = new List<MemoryBudget>();
        lock (_budgets)
        {
            int kept = 0;
            for (int i = 0; i < _budgets.Count; i++)
            {
                WeakReference<MemoryBudget> reference = _budgets[i];
                if (reference.TryGetTarget(out MemoryBudget? budget) && !budget.IsDisposed)
                {
                    live.Add(budget);
                    _budgets[kept++] = reference;
                }
            }

            _budgets.RemoveRange(kept, _budgets.Count - kept);
        }

        return live;
    }

    private IEnumerable<Measurement<long>> ObserveLimit()
    {
        foreach (MemoryBudget budget in Live())
        {
            yield return new Measurement<long>(budget.Capacity, Tag(budget));
        }
    }

    private IEnumerable<Measurement<long>> ObserveUsage()
    {
        foreach (MemoryBudget budget in Live())
        {
            MemoryBudgetSnapshot s = budget.GetSnapshot();
            yield return new Measurement<long>(Math.Max(s.Used - s.Parked, 0), Tag(budget), new KeyValuePair<string, object?>(StateTag, "used"));
            yield return new Measurement<long>(s.Reserved, Tag(budget), new KeyValuePair<string, object?>(StateTag, "reserved"));
            yield return new Measurement<long>(s.Stocked, Tag(budget), new KeyValuePair<string, object?>(StateTag, "stocked"));
            yield return new Measurement<long>(s.Parked, Tag(budget), new KeyValuePair<string, object?>(StateTag, "parked"));
        }
    }

    private IEnumerable<Measurement<double>> ObserveUtilization()
    {
        foreach (MemoryBudget budget in Live())
        {
            yield return new Measurement<double>((double)budget.Used / budget.Capacity, Tag(budget));
        }
    }

    private static KeyValuePair<string, object?> Tag(MemoryBudget budget) => new(BudgetTag, budget.Name);
}
