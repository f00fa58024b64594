using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Transactions;

namespace Headroom.Lab.Tests.Transactions;

/// <summary>What the design promises, read from real runs of every policy at both memory levels.</summary>
[Collection(TransactionRuns.Collection)]
public sealed class TransactionsScenarioTests(TransactionRuns runs) : IClassFixture<TransactionRuns>
{
    private static readonly string[] ReservationPolicies = ["reservation-watermark", "reservation-tokens"];

    private static readonly string[] RollbackPolicies = ["mayfail-rollback", "memoryfailpoint", "ratelimiter"];

    public static TheoryData<string> Variants => new(TransactionSizing.Ample, TransactionSizing.Tight);

    [Fact]
    public void The_scenario_names_its_variants_and_the_nine_policies_of_the_issue()
    {
        Assert.Equal("transactions", runs.Scenario.Name);
        Assert.Equal(["ample", "tight"], runs.Scenario.Variants);
        Assert.Equal(
            ["nofail-loop", "nofail", "preallocate", "mempool", "reservation-watermark", "reservation-tokens", "mayfail-rollback", "memoryfailpoint", "ratelimiter"],
            runs.Scenario.Policies);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Reservations_have_no_mid_transaction_failure_although_every_draw_is_a_NoWait_rent(string variant)
    {
        foreach (string policy in ReservationPolicies)
        {
            PolicyRun run = runs.Runs[(variant, policy)];
            Assert.True(run.Operations > 0, $"{variant}/{policy} completed nothing");
            Assert.Equal(0, run.MidTransactionFailures);
            Assert.Equal(0, run.Rollbacks);
            Assert.Equal(run.Figures[TransactionFigures.Reservations], run.Figures[TransactionFigures.TransactionsBegun] - run.Figures[TransactionFigures.AbortedAtEnd]);
        }
    }

    [Fact]
    public void Tight_memory_really_is_tight_reservations_queue_and_ordinary_rents_fail()
    {
        // Without this, zero failures under reservations would prove nothing.
        foreach (string policy in ReservationPolicies)
        {
            Assert.True(runs.Runs[("tight", policy)].Figures[TransactionFigures.ReservationsNotAdmittedAtOnce] > 0, $"{policy}: every reservation was admitted at once");
        }

        Assert.True(runs.Runs[("tight", "mayfail-rollback")].MidTransactionFailures > 0, "no MayFail rent failed in tight memory");
        Assert.True(runs.Runs[("tight", "nofail")].Figures[TransactionFigures.NoFailWaits] > 0, "no NoFail rent waited in tight memory");
        Assert.True(runs.Runs[("tight", "nofail")].Figures[TransactionFigures.DirtyPagesDropped] > 0, "the page cache was never written back");
    }

    [Fact]
    public void Ample_memory_never_fails_an_allocation()
    {
        foreach (string policy in runs.Scenario.Policies)
        {
            PolicyRun run = runs.Runs[("ample", policy)];
            Assert.True(run.Operations > 0, $"ample/{policy} completed nothing");
            Assert.Equal(0, run.MidTransactionFailures);
            Assert.False(run.IsStalled, run.StallReport);
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Rolling_back_policies_roll_back_once_per_mid_transaction_failure(string variant)
    {
        foreach (string policy in RollbackPolicies)
        {
            PolicyRun run = runs.Runs[(variant, policy)];
            Assert.Equal(run.MidTransactionFailures, run.Rollbacks);
            Assert.Equal(run.Rollbacks == 0, run.Figures[TransactionFigures.RolledBackBuffers] == 0);
        }
    }

    [Fact]
    public void Every_policy_ends_with_nothing_used_or_reserved_no_worker_running_and_the_file_deleted()
    {
        foreach (((string variant, string policy), PolicyRun run) in runs.Runs)
        {
            MemoryBudget budget = Assert.Single(run.Watched);
            Assert.True(budget.IsDisposed, $"{variant}/{policy}: budget left undisposed");
            Assert.Equal(0, budget.Used);
            Assert.Equal(0, budget.Reserved);
            Assert.Equal(0, budget.Committed);
            Assert.Equal(0, runs.LiveWorkersAfter[(variant, policy)]);
        }

        Assert.Empty(runs.LeftoverFiles);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void The_same_seed_gives_every_policy_the_same_transactions_in_the_same_order(string variant)
    {
        int longest = 0;
        for (int worker = 0; worker < TransactionRuns.Settings.Threads; worker++)
        {
            IReadOnlyList<TransactionShape> reference = runs.Scenario.Policies.Select(p => runs.Shapes(variant, p, worker)).MaxBy(s => s.Count)!;
            longest = Math.Max(longest, reference.Count);
            foreach (string policy in runs.Scenario.Policies)
            {
                IReadOnlyList<TransactionShape> shapes = runs.Shapes(variant, policy, worker);
                Assert.True(shapes.Count > 0, $"{variant}/{policy}: worker {worker} began no transaction");
                Assert.Equal(reference.Take(shapes.Count), shapes); // a policy that did less saw a prefix of the same stream
            }
        }

        Assert.True(longest >= 50, $"the longest stream had {longest} transactions: too few to compare");
    }

    [Fact]
    public void Workers_draw_different_streams_and_the_worst_case_is_rare()
    {
        IReadOnlyList<TransactionShape> first = runs.Shapes("ample", "nofail", 0);
        IReadOnlyList<TransactionShape> second = runs.Shapes("ample", "nofail", 1);
        Assert.NotEqual(first.Take(20), second.Take(20));
        Assert.All(first, s => Assert.InRange(s.Buffers, 1, TransactionSizing.WorstCaseBuffers));
        Assert.All(first, s => Assert.InRange(s.DirtyPages, 1, Math.Min(s.Buffers, TransactionSizing.MaxDirtyPages)));
        double mean = first.Average(s => s.Buffers);
        Assert.InRange(mean, 6, 10); // 1 + an exponential of mean 7, cut at 64
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Preallocation_and_reservations_report_what_they_held_and_did_not_use(string variant)
    {
        foreach (string policy in (string[])["preallocate", .. ReservationPolicies])
        {
            PolicyRun run = runs.Runs[(variant, policy)];
            Assert.True(run.ReservedUnusedBytes > 0, $"{variant}/{policy}");
            Assert.True(run.ReservedUnusedBytes <= run.Operations * TransactionSizing.WorstCaseBytes, $"{variant}/{policy}: more unused than held");
        }

        // Tokens draw from the reservation first, so what is left is the worst case less what the transaction used.
        PolicyRun tokens = runs.Runs[(variant, "reservation-tokens")];
        double tokensUnused = (TransactionSizing.WorstCaseBuffers - tokens.Figures[TransactionFigures.BuffersPerTransaction]) * TransactionSizing.PageBytes * tokens.Operations;
        Assert.Equal(tokensUnused, tokens.ReservedUnusedBytes, tokensUnused * 0.001);

        PolicyRun prealloc = runs.Runs[(variant, "preallocate")];
        double used = prealloc.Figures[TransactionFigures.BuffersPerTransaction];
        double expectedUnused = (TransactionSizing.WorstCaseBuffers - used) * TransactionSizing.PageBytes * prealloc.Operations;
        Assert.Equal(expectedUnused, prealloc.ReservedUnusedBytes, expectedUnused * 0.001);
    }

    [Fact]
    public void The_claims_figures_are_measured()
    {
        foreach (string policy in ReservationPolicies)
        {
            PolicyRun run = runs.Runs[("ample", policy)];
            Assert.True(run.Figures[TransactionFigures.ReserveNsPerCall] > 0);
            Assert.True(run.Figures[TransactionFigures.ChargeNsPerCall] > 0);
            Assert.True(run.Figures[TransactionFigures.ReserveDisposeNs] > 0);
            Assert.True(run.Figures[TransactionFigures.ChargeUnchargeNs] > 0);
        }

        PolicyRun tight = runs.Runs[("tight", "reservation-watermark")];
        Assert.InRange(tight.Figures[TransactionFigures.ReservationWaitsWhileReclaimable], 0, tight.Figures[TransactionFigures.ReservationWaits]);
        Assert.InRange(tight.Figures[TransactionFigures.ReservationWaitsWhileReclaimable], 0, tight.Figures[TransactionFigures.ReservationWaitsWithAnyReclaimable]);
        Assert.Contains(TransactionFigures.LoopRetries, runs.Runs[("tight", "nofail-loop")].Figures.Keys);
        Assert.Contains(TransactionFigures.MempoolWaits, runs.Runs[("tight", "mempool")].Figures.Keys);
    }
}
