using Headroom.Lab.Report;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios;
using Headroom.Lab.Scenarios.AtomicReserve;
using Headroom.Lab.Scenarios.OomLockDeadlock;
using Headroom.Lab.Scenarios.ReclaimRecursion;
using Headroom.Lab.Scenarios.TooSmallToFail;

// The scenarios measure real threads on a shared machine: one at a time, so that they do not measure each other.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Headroom.Lab.Tests;

/// <summary>Each scenario at a small size: its results hold what the design promises, and it leaves nothing behind.</summary>
public sealed class ScenarioTests
{
    private static readonly LabSettings Small = new(Size: 0.05, Duration: TimeSpan.FromSeconds(1.2), Threads: 2, Capacity: null, Seed: 7);

    [Fact]
    public async Task Reclaim_recursion_without_the_scope_is_reported_as_a_stall_on_the_journal_lock_and_with_it_completes()
    {
        var scenario = new ReclaimRecursionScenario();
        RunOutcome noScope = await RunAsync(scenario, "no-scope");
        RunOutcome nofs = await RunAsync(scenario, "nofs-scope");

        Assert.True(noScope.Run.IsStalled, "no-scope must deadlock on the journal lock and be declared stalled");
        Assert.Contains("journal lock", noScope.Run.StallReport, StringComparison.Ordinal);
        Assert.Contains("itself holds", noScope.Run.StallReport, StringComparison.Ordinal);
        Assert.False(noScope.Completed);

        Assert.False(nofs.Run.IsStalled, nofs.Run.StallReport);
        Assert.True(nofs.Completed, nofs.Error);
        Assert.True(nofs.Run.Operations > 0);
    }

    [Fact]
    public async Task Reaper_and_reservation_make_progress_where_single_victim_stalls()
    {
        var scenario = new OomLockDeadlockScenario();
        RunOutcome single = await RunAsync(scenario, FigureNames.SingleVictim);
        RunOutcome timeout = await RunAsync(scenario, FigureNames.KillTimeout);
        RunOutcome reaper = await RunAsync(scenario, FigureNames.Reaper);
        RunOutcome reservation = await RunAsync(scenario, FigureNames.Reservation);

        Assert.True(single.Run.IsStalled, "single-victim must stall: the victim waits for the lock the allocator holds");
        Assert.Equal(0, single.Run.Operations);
        Assert.Equal(1, single.Run.OomKills); // one victim, and never a second
        Assert.Contains("hog-1", single.Run.StallReport, StringComparison.Ordinal);

        foreach (RunOutcome progress in new[] { reaper, reservation, timeout })
        {
            Assert.False(progress.Run.IsStalled, progress.Run.StallReport);
            Assert.True(progress.Completed, progress.Error);
            Assert.True(progress.Run.Operations > 0);
        }

        Assert.True(reaper.Run.Operations > timeout.Run.Operations, "the reaper frees at once; the timeout waits for it");
        Assert.Equal(0, reaper.Run.OomKillsNotCause);
        Assert.Equal(0, reservation.Run.OomKillsNotCause);
        Assert.True(timeout.Run.Figures[FigureNames.NextVictimKills] > 0);
        Assert.Equal(timeout.Run.Figures[FigureNames.NextVictimKills], timeout.Run.Figures[FigureNames.NextVictimKillsNotCause]);
    }

    [Fact]
    public async Task Atomic_charges_with_the_reserve_fail_less_than_without()
    {
        var scenario = new AtomicReserveScenario();
        RunOutcome with = await RunAsync(scenario, "with-reserve");
        RunOutcome without = await RunAsync(scenario, "no-reserve");

        Assert.True(with.Completed && without.Completed, with.Error ?? without.Error);
        Assert.True(with.Run.Figures[FigureNames.AtomicAttempts] > 0 && without.Run.Figures[FigureNames.AtomicAttempts] > 0);
        double withRate = with.Run.Figures[FigureNames.AtomicFailures] / with.Run.Figures[FigureNames.AtomicAttempts];
        double withoutRate = without.Run.Figures[FigureNames.AtomicFailures] / without.Run.Figures[FigureNames.AtomicAttempts];
        Assert.True(withRate < withoutRate, $"with the reserve {withRate:P1} of atomic charges failed, without it {withoutRate:P1}");
    }

    [Fact]
    public async Task Too_small_to_fail_loop_never_fails_and_fail_aborts_what_it_could_not_charge()
    {
        var scenario = new TooSmallToFailScenario();
        RunOutcome loop = await RunAsync(scenario, "loop");
        RunOutcome fail = await RunAsync(scenario, "fail");
        RunOutcome retry = await RunAsync(scenario, "retry-mayfail");

        foreach (RunOutcome r in new[] { loop, fail, retry })
        {
            Assert.True(r.Completed, r.Error ?? r.Run.StallReport);
            Assert.True(r.Run.Operations > 0);
        }

        Assert.Equal(0, loop.Run.MidTransactionFailures);
        Assert.Equal(0, loop.Run.Rollbacks);
        Assert.Equal(fail.Run.MidTransactionFailures, (long)fail.Run.Figures.GetValueOrDefault("abortedOperations"));
        Assert.Equal(0, fail.Run.Rollbacks);
        Assert.Equal(retry.Run.MidTransactionFailures, retry.Run.Rollbacks); // every failure handled by a rollback and a retry
    }

    /// <summary>Runs one policy and checks what every run must leave: no lab thread running, every budget at Used = Reserved = 0.</summary>
    private static async Task<RunOutcome> RunAsync(IScenario scenario, string policy)
    {
        RunOutcome outcome = await PolicyRunner.RunAsync(scenario, variant: null, policy, Small, live: null);
        Assert.Empty(outcome.ThreadsLeftRunning);
        Assert.Equal(0, LabThreads.Alive);
        Assert.NotEmpty(outcome.Run.Watched);
        foreach (MemoryBudget budget in outcome.Run.Watched)
        {
            Assert.Equal(0, budget.Used);
            Assert.Equal(0, budget.Reserved);
        }

        Assert.Null(outcome.Error);
        return outcome;
    }
}
