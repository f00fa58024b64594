using Headroom.Tests.Reclaim;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Oom;

/// <summary>
/// The article's OOM deadlock, three ways: an allocator holds lock L and charges NoFail; the biggest consumer needs L
/// to finish, so killing it alone frees nothing. The reaper, the kill timeout and the canary are what keep the tree
/// from hanging.
/// </summary>
public sealed class ArticleDeadlockTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new();
    private readonly FakeLogger _logger = new();
    private readonly SemaphoreSlim _lockL = new(1, 1);

    public void Dispose() => _lockL.Dispose();

    [Fact]
    public async Task With_the_reaper_the_allocator_proceeds_while_the_victim_is_still_blocked()
    {
        using MemoryBudget budget = Create();
        using var cts = new CancellationTokenSource();
        using MemoryConsumer big = budget.RegisterConsumer("big", cts);
        MemoryReservation reservation;
        using (big.Enter())
        {
            reservation = await budget.ReserveAsync(600); // its transaction's memory: reapable
        }

        budget.Charge(300, AllocationMode.NoWait);
        await _lockL.WaitAsync(); // the allocator holds L
        Task victim = NeedsL(big, cts.Token);

        await budget.ChargeAsync(500, AllocationMode.NoFail, site: "allocator").AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(big.IsKilled);
        Assert.True(reservation.IsDisposed);
        Assert.False(victim.IsCompleted); // it never ran: the reaper freed its memory without it

        await big.Killing.WaitAsync(TimeSpan.FromSeconds(30)); // the kill's signal runs on its own worker
        _lockL.Release();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => victim);
        budget.Uncharge(800);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task With_unreapable_memory_the_kill_timeout_moves_on_to_the_next_victim()
    {
        using MemoryBudget budget = Create();
        using var bigCts = new CancellationTokenSource();
        using var smallCts = new CancellationTokenSource();
        using MemoryConsumer big = budget.RegisterConsumer("big", bigCts);
        using MemoryConsumer small = budget.RegisterConsumer("small", smallCts);
        TestBudgets.ChargeAs(big, budget, 600); // plain charges: nothing to reap
        TestCache cache;
        using (small.Enter())
        {
            cache = new TestCache(budget, 200);
            budget.Charge(100, AllocationMode.NoWait);
        }

        using IDisposable reapable = small.RegisterReapable(cache);
        await _lockL.WaitAsync();
        Task victim = NeedsL(big, bigCts.Token);

        Task charge = budget.ChargeAsync(150, AllocationMode.NoFail, site: "allocator").AsTask();
        Assert.True(big.IsKilled);
        Assert.False(charge.IsCompleted);
        await AdvanceUntil(() => charge.IsCompleted); // 3 s later big is given up on; small is killed and its cache reaped

        Assert.True(small.IsKilled);
        Assert.Equal(0, cache.Cached);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Message.Contains("given up on", StringComparison.Ordinal));
        Assert.False(victim.IsCompleted);

        await big.Killing.WaitAsync(TimeSpan.FromSeconds(30)); // the kill's signal runs on its own worker
        _lockL.Release();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => victim);
        TestBudgets.UnchargeAs(big, budget, 600);
        TestBudgets.UnchargeAs(small, budget, 100);
        budget.Uncharge(150);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task With_no_second_candidate_the_canary_reports_the_stall()
    {
        using MemoryBudget budget = Create();
        using var bigCts = new CancellationTokenSource();
        using var systemCts = new CancellationTokenSource();
        using MemoryConsumer big = budget.RegisterConsumer("big", bigCts);
        using MemoryConsumer system = budget.RegisterConsumer("system", systemCts, MemoryConsumer.NeverKill);
        TestBudgets.ChargeAs(big, budget, 600);
        TestBudgets.ChargeAs(system, budget, 300);
        await _lockL.WaitAsync();
        Task victim = NeedsL(big, bigCts.Token, unwind: () => TestBudgets.UnchargeAs(big, budget, 600));

        Task charge = budget.ChargeAsync(100, AllocationMode.NoFail, site: "allocator").AsTask();
        await AdvanceUntil(() => _logger.Collector.GetSnapshot().Any(r => r.Message.Contains("stall", StringComparison.Ordinal)));

        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Message.Contains("no victim", StringComparison.Ordinal));
        Assert.False(system.IsKilled); // never a wrong kill
        Assert.False(charge.IsCompleted);

        await big.Killing.WaitAsync(TimeSpan.FromSeconds(30)); // the kill's signal runs on its own worker
        _lockL.Release(); // L comes free: the victim unwinds, and the allocator is granted
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => victim);
        await charge.WaitAsync(TimeSpan.FromSeconds(30));
        budget.Uncharge(100);
        TestBudgets.UnchargeAs(system, budget, 300);
        TestBudgets.AssertEmpty(budget);
    }

    private MemoryBudget Create() => new(new MemoryBudgetOptions
    {
        Capacity = 1000,
        MinWatermark = 100,
        LowWatermark = 100,
        HighWatermark = 100,
        CanaryInterval = TimeSpan.FromSeconds(10),
        TimeProvider = _clock,
        Logger = _logger,
        Oom = new OomOptions { KillTimeout = TimeSpan.FromSeconds(3) },
    });

    /// <summary>The victim's work: it needs L to finish; once it has L it sees that it was killed and unwinds.</summary>
    private Task NeedsL(MemoryConsumer consumer, CancellationToken killed, Action? unwind = null) => Task.Run(async () =>
    {
        using (consumer.Enter())
        {
            await _lockL.WaitAsync(CancellationToken.None);
            _lockL.Release();
            unwind?.Invoke();
            killed.ThrowIfCancellationRequested();
        }
    });

    private async Task AdvanceUntil(Func<bool> condition)
    {
        for (int i = 0; i < 600 && !condition(); i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5);
        }

        Assert.True(condition(), "nothing happened within ten minutes of fake time");
    }
}
