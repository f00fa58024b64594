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

    /// <summary>
    /// The roots whose trees the observable instruments report, held weakly: a root nobody disposed stops being
    /// reported once it is collected. Children are found through their root when a listener collects, so that a child
    /// costs nothing here.
    /// </summary>
    private readonly List<WeakReference<MemoryBudget>> _roots = []; // guarded by itself

    /// <summary>The count at which <see cref="Track"/> next forgets collected and disposed roots (amortised: it doubles).</summary>
    private int _forgetAt = 64;

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
        _refusals = meter.CreateCounter<long>("headroom.memory.refusals", "{refusal}", "Charge attempts the budget refused after what their mode allows (reclaim, a bounded wait), by the caller's mode; like memcg's max events, internal NoWait tries (rents, mempools, the arena) count too.");
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

    /// <summary>Gets how many roots are tracked now, forgotten ones not yet dropped included.</summary>
    internal int TrackedRoots
    {
        get
        {
            lock (_roots)
            {
                LockOrder.Entered(LockLevel.Leaf, _roots);
                return _roots.Count;
            }
        }
    }

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
            LockOrder.Entered(LockLevel.Leaf, ByMeter);
            if (!ByMeter.TryGetValue(meter, out BudgetMeter? existing))
            {
                existing = new BudgetMeter(meter);
                ByMeter.Add(meter, existing);
            }

            return existing;
        }
    }

    /// <summary>Starts reporting the tree of <paramref name="root"/>.</summary>
    internal void Track(MemoryBudget root)
    {
        var reference = new WeakReference<MemoryBudget>(root);
        lock (_roots)
        {
            LockOrder.Entered(LockLevel.Leaf, _roots);
            if (_roots.Count >= _forgetAt)
            {
                LiveRoots(into: null); // without a listener nothing else would ever forget them
                _forgetAt = Math.Max(64, 2 * _roots.Count);
            }

            _roots.Add(reference);
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

    /// <summary>The budgets to report now: every live budget of every live root's tree.</summary>
    private List<MemoryBudget> Live()
    {
        var roots = new List<MemoryBudget>();
        lock (_roots)
        {
            LockOrder.Entered(LockLevel.Leaf, _roots);
            LiveRoots(roots);
        }

        var live = new List<MemoryBudget>();
        foreach (MemoryBudget root in roots)
        {
            root.CollectLiveTree(live); // under its tree's lock, not under this one
        }

        return live;
    }

    /// <summary>Forgets collected and disposed roots, adding the others to <paramref name="into"/>. Caller holds the list's lock.</summary>
    private void LiveRoots(List<MemoryBudget>? into)
    {
        int kept = 0;
        for (int i = 0; i < _roots.Count; i++)
        {
            WeakReference<MemoryBudget> reference = _roots[i];
            if (reference.TryGetTarget(out MemoryBudget? root) && !root.IsDisposed)
            {
                into?.Add(root);
                _roots[kept++] = reference;
            }
        }

        _roots.RemoveRange(kept, _roots.Count - kept);
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
