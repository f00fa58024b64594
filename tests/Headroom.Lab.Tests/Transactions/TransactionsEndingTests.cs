using System.Diagnostics;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Transactions;

namespace Headroom.Lab.Tests.Transactions;

/// <summary>The run's token ends every policy promptly, in tight memory where threads wait, and nothing is left held.</summary>
[Collection(TransactionRuns.Collection)]
public sealed class TransactionsEndingTests
{
    public static TheoryData<string> Policies => new(new TransactionsScenario().Policies);

    [Theory]
    [MemberData(nameof(Policies))]
    public async Task Cancelling_the_token_ends_every_worker_promptly_and_returns_everything(string policy)
    {
        var scenario = new TransactionsScenario(observe: null, warmUp: false);
        var run = new PolicyRun(scenario.Name, TransactionSizing.Tight, policy, new LabSettings(1.0, TimeSpan.FromMinutes(5), 4, null, 11));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();

        await scenario.RunAsync(run, cts.Token).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed} to end after the token fired at 300 ms");
        Assert.Equal(0, scenario.LiveWorkers);
        MemoryBudget budget = Assert.Single(run.Watched);
        Assert.Equal(0, budget.Used);
        Assert.Equal(0, budget.Reserved);
        Assert.False(run.IsStalled, run.StallReport); // the token, not the grace period, ended it
    }

    [Fact]
    public async Task An_unknown_variant_or_policy_is_refused_by_name()
    {
        var scenario = new TransactionsScenario(observe: null, warmUp: false);
        var settings = new LabSettings(1.0, TimeSpan.FromMilliseconds(100), 2, null, 1);
        var variant = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => scenario.RunAsync(new PolicyRun(scenario.Name, "roomy", "nofail", settings), CancellationToken.None));
        Assert.Contains("roomy", variant.Message, StringComparison.Ordinal);
        var policy = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => scenario.RunAsync(new PolicyRun(scenario.Name, "tight", "pray", settings), CancellationToken.None));
        Assert.Contains("pray", policy.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_capacity_that_cannot_admit_one_worst_case_is_refused_by_name()
    {
        var scenario = new TransactionsScenario(observe: null, warmUp: false);
        var settings = new LabSettings(1.0, TimeSpan.FromMilliseconds(100), 2, TransactionSizing.WorstCaseBytes, 1);
        var refused = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => scenario.RunAsync(new PolicyRun(scenario.Name, "tight", "nofail", settings), CancellationToken.None));
        Assert.Contains(TransactionSizing.WorstCaseBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), refused.Message, StringComparison.Ordinal);
    }
}
