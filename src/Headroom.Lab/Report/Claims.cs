using Headroom.Lab.Results;
using static Headroom.Lab.Report.FigureNames;

namespace Headroom.Lab.Report;

/// <summary>
/// "What the article claimed, and what we measured": one rule per claim of issue 12, each reading results.json's
/// metrics and the scenarios' figures by the names in <see cref="FigureNames"/>, and computing its verdict from them.
/// A claim whose data is missing (its scenario was not run, or a figure was not emitted) is "not measured".
/// </summary>
internal static class Claims
{
    public const string Supported = "supported";
    public const string Refuted = "refuted";
    public const string Mixed = "mixed";
    public const string NotMeasured = "not measured";

    public static List<ClaimResult> Compute(IReadOnlyList<ScenarioResult> scenarios)
    {
        var data = new Lookup(scenarios);
        return
        [
            Preallocation(data),
            ReservationCost(data),
            LoopingWorks(data),
            NextVictim(data),
            HandleFailure(data),
            Mempools(data),
            UnknownReclaimable(data),
        ];
    }

    private static ClaimResult Preallocation(Lookup data)
    {
        const string rule = "ample: preallocate's throughput ÷ reservation-watermark's ≤ 0.5 or its CPU per op ≥ 2× → supported; ≤ 0.9 or ≥ 1.1× → mixed; else refuted";
        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        PolicyResult? pre = data.Find(Transactions, Ample, Preallocate);
        PolicyResult? res = data.Find(Transactions, Ample, ReservationWatermark);
        AddTransactionPair(figures, data, Ample, Preallocate, ReservationWatermark);
        AddTransactionPair(figures, data, Tight, Preallocate, ReservationWatermark);
        string verdict = NotMeasured;
        if (pre is not null && res is not null && res.Metrics.ThroughputPerSec > 0 && res.Metrics.CpuNsPerOp > 0)
        {
            double throughput = pre.Metrics.ThroughputPerSec / res.Metrics.ThroughputPerSec;
            double cpu = pre.Metrics.CpuNsPerOp / res.Metrics.CpuNsPerOp;
            figures["ample.throughputRatio"] = throughput;
            figures["ample.cpuRatio"] = cpu;
            verdict = throughput <= 0.5 || cpu >= 2 ? Supported : throughput <= 0.9 || cpu >= 1.1 ? Mixed : Refuted;
        }

        return new ClaimResult { Who = "Chinner", Claim = "Preallocation has a \"massive impact on performance\".", Figures = figures, Verdict = verdict, Rule = rule };
    }

    private static ClaimResult ReservationCost(Lookup data)
    {
        const string rule = "reservation-watermark (ample, else tight): reserveNsPerCall ÷ chargeNsPerCall ≤ 2 → supported; ≤ 10 → mixed; else refuted";
        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        string verdict = NotMeasured;
        foreach (string variant in new[] { Ample, Tight })
        {
            PolicyResult? res = data.Find(Transactions, variant, ReservationWatermark);
            if (res is null || !res.Figures.TryGetValue(ReserveNsPerCall, out double reserve) || !res.Figures.TryGetValue(ChargeNsPerCall, out double charge) || charge <= 0)
            {
                continue;
            }

            figures[$"{variant}.{ReserveNsPerCall}"] = reserve;
            figures[$"{variant}.{ChargeNsPerCall}"] = charge;
            figures[$"{variant}.ratio"] = reserve / charge;
            if (verdict == NotMeasured)
            {
                double ratio = reserve / charge;
                verdict = ratio <= 2 ? Supported : ratio <= 10 ? Mixed : Refuted;
            }
        }

        return new ClaimResult { Who = "Chinner", Claim = "A reservation is \"an increased value in a single integer variable\" (its cost beside a charge's).", Figures = figures, Verdict = verdict, Rule = rule };
    }

    private static ClaimResult LoopingWorks(Lookup data)
    {
        const string rule = "tight nofail-loop: works = completed, no stall, no mid-transaction failure; rare = canary warnings ≤ max(1, 1 % of operations); both → supported, neither → refuted, one → mixed";
        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        PolicyResult? loop = data.Find(Transactions, Tight, NofailLoop);
        string verdict = NotMeasured;
        if (loop is not null)
        {
            AddMetrics(figures, $"{Tight}.{NofailLoop}", loop, includeFigures: true);
            if (data.Find(Transactions, Tight, Nofail) is { } nofail)
            {
                figures[$"{Tight}.{Nofail}.canaryWarnings"] = nofail.Metrics.CanaryWarnings;
                figures[$"{Tight}.{Nofail}.operations"] = nofail.Metrics.Operations;
            }

            bool works = loop.Completed && !loop.Stalled && loop.Metrics.MidTransactionFailures == 0 && loop.Metrics.Operations > 0;
            bool rare = loop.Metrics.CanaryWarnings <= Math.Max(1, 0.01 * loop.Metrics.Operations);
            verdict = works && rare ? Supported : !works && !rare ? Refuted : Mixed;
        }

        return new ClaimResult { Who = "Ts'o and Chinner", Claim = "Looping \"works pretty well\"; the canary rarely fires.", Figures = figures, Verdict = verdict, Rule = rule };
    }

    private static ClaimResult NextVictim(Lookup data)
    {
        const string rule = "oom-lock-deadlock kill-timeout: of the victims chosen after a give-up, the share that did not cause the shortage ≥ 0.5 → supported; < 0.25 → refuted; else mixed; none chosen → not measured";
        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        string verdict = NotMeasured;
        if (data.Find(OomLockDeadlock, null, KillTimeout) is { } timeout)
        {
            figures[$"{KillTimeout}.oomKills"] = timeout.Metrics.OomKills;
            figures[$"{KillTimeout}.oomKillsNotCause"] = timeout.Metrics.OomKillsNotCause;
            figures[$"{KillTimeout}.operations"] = timeout.Metrics.Operations;
            double next = timeout.Figures.GetValueOrDefault(NextVictimKills);
            double innocent = timeout.Figures.GetValueOrDefault(NextVictimKillsNotCause);
            figures[$"{KillTimeout}.{NextVictimKills}"] = next;
            figures[$"{KillTimeout}.{NextVictimKillsNotCause}"] = innocent;
            if (next > 0)
            {
                double share = innocent / next;
                figures["nextVictimNotCauseShare"] = share;
                verdict = share >= 0.5 ? Supported : share < 0.25 ? Refuted : Mixed;
            }
        }

        if (data.Find(OomLockDeadlock, null, SingleVictim) is { } single)
        {
            figures[$"{SingleVictim}.stalled"] = single.Stalled ? 1 : 0;
            figures[$"{SingleVictim}.operations"] = single.Metrics.Operations;
        }

        foreach (PolicyResult p in data.All(Transactions))
        {
            figures["transactions.oomKills"] = figures.GetValueOrDefault("transactions.oomKills") + p.Metrics.OomKills;
            figures["transactions.oomKillsNotCause"] = figures.GetValueOrDefault("transactions.oomKillsNotCause") + p.Metrics.OomKillsNotCause;
        }

        return new ClaimResult { Who = "Rientjes", Claim = "The next OOM victim is no more appropriate than the first.", Figures = figures, Verdict = verdict, Rule = rule };
    }

    private static ClaimResult HandleFailure(Lookup data)
    {
        const string rule = "tight: mayfail-rollback completed without a stall and its throughput ≥ 0.9 × nofail's → supported; stalled, not completed or < 0.5 × → refuted; else mixed";
        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        PolicyResult? rollback = data.Find(Transactions, Tight, MayfailRollback);
        PolicyResult? nofail = data.Find(Transactions, Tight, Nofail);
        string verdict = NotMeasured;
        if (rollback is not null && nofail is not null)
        {
            AddMetrics(figures, $"{Tight}.{MayfailRollback}", rollback, includeFigures: false);
            figures[$"{Tight}.{Nofail}.throughputPerSec"] = nofail.Metrics.ThroughputPerSec;
            if (data.Find(Transactions, Tight, NofailLoop) is { } loop)
            {
                figures[$"{Tight}.{NofailLoop}.throughputPerSec"] = loop.Metrics.ThroughputPerSec;
            }

            double ratio = nofail.Metrics.ThroughputPerSec > 0 ? rollback.Metrics.ThroughputPerSec / nofail.Metrics.ThroughputPerSec : 0;
            figures["throughputRatio"] = ratio;
            bool handled = rollback.Completed && !rollback.Stalled;
            verdict = handled && ratio >= 0.9 ? Supported : !handled || ratio < 0.5 ? Refuted : Mixed;
        }

        // Context from the 3.19 regression: code that did not expect failure, beside code that retries its own way.
        foreach (string policy in new[] { "fail", "retry-mayfail", "loop" })
        {
            if (data.Find(TooSmallToFail, null, policy) is { } p)
            {
                figures[$"{TooSmallToFail}.{policy}.operations"] = p.Metrics.Operations;
                figures[$"{TooSmallToFail}.{policy}.midTransactionFailures"] = p.Metrics.MidTransactionFailures;
            }
        }

        return new ClaimResult { Who = "Morton and Hocko", Claim = "Callers should handle failure, not loop.", Figures = figures, Verdict = verdict, Rule = rule };
    }

    private static ClaimResult Mempools(Lookup data)
    {
        const string rule = "tight: mempool stalled, had mid-transaction failures, or its throughput < 0.8 × reservation-watermark's → supported; else ample throughput < 0.8 × → mixed; else refuted";
        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        AddTransactionPair(figures, data, Ample, Mempool, ReservationWatermark);
        AddTransactionPair(figures, data, Tight, Mempool, ReservationWatermark);
        PolicyResult? tightPool = data.Find(Transactions, Tight, Mempool);
        PolicyResult? tightRes = data.Find(Transactions, Tight, ReservationWatermark);
        string verdict = NotMeasured;
        if (tightPool is not null && tightRes is not null)
        {
            double ratio = tightRes.Metrics.ThroughputPerSec > 0 ? tightPool.Metrics.ThroughputPerSec / tightRes.Metrics.ThroughputPerSec : 0;
            figures["tight.throughputRatio"] = ratio;
            figures[$"{Tight}.{Mempool}.{MempoolWaits}"] = tightPool.Figures.GetValueOrDefault(MempoolWaits);
            bool worseTight = tightPool.Stalled || tightPool.Metrics.MidTransactionFailures > 0 || ratio < 0.8;
            double ampleRatio = double.NaN;
            if (data.Find(Transactions, Ample, Mempool) is { } amplePool && data.Find(Transactions, Ample, ReservationWatermark) is { Metrics.ThroughputPerSec: > 0 } ampleRes)
            {
                ampleRatio = amplePool.Metrics.ThroughputPerSec / ampleRes.Metrics.ThroughputPerSec;
                figures["ample.throughputRatio"] = ampleRatio;
            }

            verdict = worseTight ? Supported : ampleRatio < 0.8 ? Mixed : Refuted;
        }

        return new ClaimResult { Who = "Chinner", Claim = "Mempools suit single-size objects, not transactions.", Figures = figures, Verdict = verdict, Rule = rule };
    }

    private static ClaimResult UnknownReclaimable(Lookup data)
    {
        const string rule = "tight reservation-watermark and reservation-tokens: reservations that waited although the reclaimers still reported the shortfall reclaimable, ÷ reservations: ≥ 1 % → supported; > 0 → mixed; 0 → refuted";
        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        double reservations = 0, waits = 0, waitsReclaimable = 0;
        bool measured = false;
        foreach (string policy in new[] { ReservationWatermark, ReservationTokens })
        {
            if (data.Find(Transactions, Tight, policy) is not { } p || !p.Figures.TryGetValue(Reservations, out double made))
            {
                continue;
            }

            measured = true;
            double w = p.Figures.GetValueOrDefault(ReservationWaits), wr = p.Figures.GetValueOrDefault(ReservationWaitsWhileReclaimable);
            figures[$"{Tight}.{policy}.{Reservations}"] = made;
            figures[$"{Tight}.{policy}.{ReservationWaits}"] = w;
            figures[$"{Tight}.{policy}.{ReservationWaitsWhileReclaimable}"] = wr;
            reservations += made;
            waits += w;
            waitsReclaimable += wr;
        }

        string verdict = NotMeasured;
        if (measured && reservations > 0)
        {
            double share = waitsReclaimable / reservations;
            figures["waitedWhileReclaimableShare"] = share;
            verdict = share >= 0.01 ? Supported : waitsReclaimable > 0 ? Mixed : Refuted;
        }

        return new ClaimResult
        {
            Who = "Weiner",
            Claim = "\"We simply don't KNOW the exact point when we ran out of reclaimable memory\" (how often a reservation waited although reclaimable memory remained).",
            Figures = figures,
            Verdict = verdict,
            Rule = rule,
        };
    }

    private static void AddTransactionPair(Dictionary<string, double> figures, Lookup data, string variant, string policy, string baseline)
    {
        foreach (string name in new[] { policy, baseline })
        {
            if (data.Find(Transactions, variant, name) is { } p)
            {
                figures[$"{variant}.{name}.throughputPerSec"] = p.Metrics.ThroughputPerSec;
                figures[$"{variant}.{name}.cpuNsPerOp"] = p.Metrics.CpuNsPerOp;
                figures[$"{variant}.{name}.peakUsedBytes"] = p.Metrics.PeakUsedBytes;
                figures[$"{variant}.{name}.reservedUnusedBytes"] = p.Metrics.ReservedUnusedBytes;
            }
        }
    }

    private static void AddMetrics(Dictionary<string, double> figures, string prefix, PolicyResult p, bool includeFigures)
    {
        figures[$"{prefix}.completed"] = p.Completed ? 1 : 0;
        figures[$"{prefix}.stalled"] = p.Stalled ? 1 : 0;
        figures[$"{prefix}.operations"] = p.Metrics.Operations;
        figures[$"{prefix}.throughputPerSec"] = p.Metrics.ThroughputPerSec;
        figures[$"{prefix}.midTransactionFailures"] = p.Metrics.MidTransactionFailures;
        figures[$"{prefix}.rollbacks"] = p.Metrics.Rollbacks;
        figures[$"{prefix}.canaryWarnings"] = p.Metrics.CanaryWarnings;
        if (includeFigures)
        {
            foreach (KeyValuePair<string, double> f in p.Figures)
            {
                figures[$"{prefix}.{f.Key}"] = f.Value;
            }
        }
    }

    /// <summary>Results by (scenario, variant, policy); a scenario without variants is looked up with a null variant.</summary>
    private sealed class Lookup(IReadOnlyList<ScenarioResult> scenarios)
    {
        public PolicyResult? Find(string scenario, string? variant, string policy) =>
            scenarios.FirstOrDefault(s => s.Name == scenario && (variant is null || s.Variant == variant))
                ?.Policies.FirstOrDefault(p => p.Name == policy);

        public IEnumerable<PolicyResult> All(string scenario) => scenarios.Where(s => s.Name == scenario).SelectMany(s => s.Policies);
    }
}
