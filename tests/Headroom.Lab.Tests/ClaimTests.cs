using Headroom.Lab.Report;
using Headroom.Lab.Results;

namespace Headroom.Lab.Tests;

/// <summary>The claims' verdicts follow from the figures by their rules, and are "not measured" without data.</summary>
public sealed class ClaimTests
{
    [Fact]
    public void Without_the_transactions_scenario_its_claims_are_not_measured()
    {
        List<ClaimResult> claims = Claims.Compute([]);
        Assert.Equal(7, claims.Count);
        Assert.All(claims, c => Assert.Equal(Claims.NotMeasured, c.Verdict));
    }

    [Fact]
    public void Verdicts_are_computed_from_the_transactions_figures()
    {
        var ample = Scenario(FigureNames.Ample,
            Policy(FigureNames.Preallocate, throughput: 100, cpuNs: 5000),
            Policy(FigureNames.ReservationWatermark, throughput: 1000, cpuNs: 1000, figures: new() { [FigureNames.ReserveNsPerCall] = 90, [FigureNames.ChargeNsPerCall] = 60 }),
            Policy(FigureNames.Mempool, throughput: 950, cpuNs: 1000));
        var tight = Scenario(FigureNames.Tight,
            Policy(FigureNames.NofailLoop, throughput: 50, cpuNs: 1000, canary: 40, operations: 100),
            Policy(FigureNames.Nofail, throughput: 100, cpuNs: 1000),
            Policy(FigureNames.MayfailRollback, throughput: 95, cpuNs: 1000),
            Policy(FigureNames.Mempool, throughput: 50, cpuNs: 1000, stalled: true),
            Policy(FigureNames.ReservationWatermark, throughput: 100, cpuNs: 1000, figures: new() { [FigureNames.Reservations] = 1000, [FigureNames.ReservationWaits] = 30, [FigureNames.ReservationWaitsWhileReclaimable] = 0 }));
        var oom = new ScenarioResult
        {
            Name = FigureNames.OomLockDeadlock,
            Variant = "default",
            Policies = [Policy(FigureNames.KillTimeout, throughput: 5, cpuNs: 1, figures: new() { [FigureNames.NextVictimKills] = 4, [FigureNames.NextVictimKillsNotCause] = 1 })],
        };

        Dictionary<string, string> verdicts = Claims.Compute([ample, tight, oom]).ToDictionary(c => c.Claim[..20], c => c.Verdict);
        List<ClaimResult> claims = Claims.Compute([ample, tight, oom]);
        Assert.Equal(Claims.Supported, claims[0].Verdict);  // preallocation: a tenth of the throughput
        Assert.Equal(10.0, claims[0].Figures["ample.throughputRatio"] is var r ? 1 / r : 0, 6);
        Assert.Equal(Claims.Supported, claims[1].Verdict);  // a reservation costs 1.5 charges
        Assert.Equal(Claims.Mixed, claims[2].Verdict);      // the loop works, but the canary fired on 40 % of operations
        Assert.Equal(Claims.Mixed, claims[3].Verdict);      // one next victim in four was not the cause
        Assert.Equal(Claims.Supported, claims[4].Verdict);  // rollback kept 95 % of nofail's throughput
        Assert.Equal(Claims.Supported, claims[5].Verdict);  // the mempool stalled when memory was tight
        Assert.Equal(Claims.Refuted, claims[6].Verdict);    // reservations waited, but never while reclaimable memory remained
        Assert.Equal(7, verdicts.Count);
    }

    private static ScenarioResult Scenario(string variant, params PolicyResult[] policies) =>
        new() { Name = FigureNames.Transactions, Variant = variant, Completed = true, Policies = [.. policies] };

    private static PolicyResult Policy(string name, double throughput, double cpuNs, long canary = 0, long operations = 1000, bool stalled = false, Dictionary<string, double>? figures = null) =>
        new()
        {
            Name = name,
            Completed = !stalled,
            Stalled = stalled,
            Figures = figures ?? [],
            Metrics = new PolicyMetrics { Operations = operations, ThroughputPerSec = throughput, CpuNsPerOp = cpuNs, CanaryWarnings = canary },
        };
}
