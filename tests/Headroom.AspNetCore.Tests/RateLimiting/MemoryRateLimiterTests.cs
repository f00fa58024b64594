using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.AspNetCore.Tests.RateLimiting;

/// <summary>The limiter against System.Threading.RateLimiting's own expectations (as ConcurrencyLimiter keeps them), with the budget as the ledger.</summary>
public sealed class MemoryRateLimiterTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_lease_reserves_its_bytes_and_disposing_it_returns_them()
    {
        using MemoryBudget budget = Budgets.Flat(10_000);
        using var limiter = new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { BytesPerPermit = 10 });

        RateLimitLease first = limiter.AttemptAcquire(600);
        Assert.True(first.IsAcquired);
        Assert.Equal(6000, budget.Reserved);
        Assert.True(first.TryGetMetadata(MemoryRateLimiter.ReservationMetadata, out MemoryReservation? reservation));
        Assert.Equal(6000, reservation!.Amount);

        using (RateLimitLease refused = limiter.AttemptAcquire(500))
        {
            Assert.False(refused.IsAcquired);
            Assert.Equal(6000, budget.Reserved); // a refusal changes nothing
        }

        first.Dispose();
        first.Dispose(); // twice is harmless
        Assert.Equal(0, budget.Reserved);
        using (RateLimitLease second = await limiter.AcquireAsync(500))
        {
            Assert.True(second.IsAcquired);
            Assert.Equal(5000, budget.Reserved);
        }

        RateLimiterStatistics stats = limiter.GetStatistics()!;
        Assert.Equal(2, stats.TotalSuccessfulLeases);
        Assert.Equal(1, stats.TotalFailedLeases);
        Assert.Equal(1000, stats.CurrentAvailablePermits);
        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Queued_acquires_are_granted_in_arrival_order_and_a_small_one_never_overtakes_a_large_one()
    {
        using MemoryBudget budget = Budgets.Flat(10_000);
        using var limiter = new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { QueueLimit = 20_000 });
        RateLimitLease all = limiter.AttemptAcquire(10_000);
        Assert.True(all.IsAcquired);

        ValueTask<RateLimitLease> a = limiter.AcquireAsync(6000);
        ValueTask<RateLimitLease> b = limiter.AcquireAsync(5000);
        ValueTask<RateLimitLease> c = limiter.AcquireAsync(1000);
        Assert.Equal(12_000, limiter.GetStatistics()!.CurrentQueuedCount);

        all.Dispose();
        using RateLimitLease leaseA = await a.AsTask().WaitAsync(Bounded);
        Assert.True(leaseA.IsAcquired);

        // 4000 bytes are free, B needs 5000 and is first: C's 1000 would fit but must wait behind B.
        await Budgets.Until(() => budget.Queue.Count == 1, "B waits on the budget");
        Assert.False(b.IsCompleted);
        Assert.False(c.IsCompleted);
        using (RateLimitLease attempt = limiter.AttemptAcquire(1000))
        {
            Assert.False(attempt.IsAcquired); // an attempt never takes bytes past a waiter either
        }

        leaseA.Dispose();
        using RateLimitLease leaseB = await b.AsTask().WaitAsync(Bounded);
        using RateLimitLease leaseC = await c.AsTask().WaitAsync(Bounded);
        Assert.True(leaseB.IsAcquired && leaseC.IsAcquired);
        Assert.Equal(6000, budget.Reserved);
        Assert.Equal(0, limiter.GetStatistics()!.CurrentQueuedCount);
        leaseB.Dispose();
        leaseC.Dispose();
        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_cancelled_acquire_leaves_the_queue_whether_it_waits_behind_others_or_at_the_head()
    {
        using MemoryBudget budget = Budgets.Flat(10_000);
        using var limiter = new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { QueueLimit = 20_000 });
        RateLimitLease all = limiter.AttemptAcquire(10_000);
        using var cancelHead = new CancellationTokenSource();
        using var cancelSecond = new CancellationTokenSource();
        ValueTask<RateLimitLease> head = limiter.AcquireAsync(4000, cancelHead.Token);
        ValueTask<RateLimitLease> second = limiter.AcquireAsync(3000, cancelSecond.Token);
        ValueTask<RateLimitLease> third = limiter.AcquireAsync(2000);
        await Budgets.Until(() => budget.Queue.Count == 1, "the head waits on the budget");

        await cancelSecond.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second.AsTask().WaitAsync(Bounded));
        Assert.Equal(6000, limiter.GetStatistics()!.CurrentQueuedCount);

        await cancelHead.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => head.AsTask().WaitAsync(Bounded));
        Assert.Equal(10_000, budget.Reserved); // the cancelled waiters left nothing behind

        all.Dispose();
        using (RateLimitLease last = await third.AsTask().WaitAsync(Bounded))
        {
            Assert.True(last.IsAcquired);
            Assert.Equal(2000, budget.Reserved);
        }

        Assert.Equal(0, limiter.GetStatistics()!.CurrentQueuedCount);
        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Zero_permits_report_whether_any_permit_is_available_and_hold_nothing()
    {
        using MemoryBudget budget = Budgets.Flat(10_000);
        using var limiter = new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { QueueLimit = 1 });
        using (RateLimitLease probe = limiter.AttemptAcquire(0))
        {
            Assert.True(probe.IsAcquired);
            Assert.Equal(0, budget.Reserved);
        }

        RateLimitLease all = limiter.AttemptAcquire(10_000);
        using (RateLimitLease probe = limiter.AttemptAcquire(0))
        {
            Assert.False(probe.IsAcquired);
        }

        ValueTask<RateLimitLease> waiting = limiter.AcquireAsync(0); // waits until one permit is available
        Assert.False(waiting.IsCompleted);
        all.Dispose();
        using (RateLimitLease granted = await waiting.AsTask().WaitAsync(Bounded))
        {
            Assert.True(granted.IsAcquired);
        }

        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_permit_count_above_the_limit_throws_and_changes_nothing()
    {
        using MemoryBudget budget = Budgets.Flat(10_000);
        using var limiter = new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { BytesPerPermit = 100 });
        Assert.Equal(100, limiter.PermitLimit);
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => limiter.AttemptAcquire(101));
        Assert.Equal("permitCount", e.ParamName);
        Assert.Contains("permit limit 100", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await limiter.AcquireAsync(101));
        Assert.Throws<ArgumentOutOfRangeException>(() => limiter.AttemptAcquire(-1));
        using (RateLimitLease whole = limiter.AttemptAcquire(100))
        {
            Assert.True(whole.IsAcquired);
        }

        RateLimiterStatistics stats = limiter.GetStatistics()!;
        Assert.Equal(1, stats.TotalSuccessfulLeases);
        Assert.Equal(0, stats.TotalFailedLeases);
        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Past_the_queue_limit_an_acquire_fails_at_once_with_its_reason_and_retry_after()
    {
        using MemoryBudget budget = Budgets.Flat(10_000);
        using var limiter = new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { QueueLimit = 5000, RetryAfter = TimeSpan.FromSeconds(3) });
        RateLimitLease all = limiter.AttemptAcquire(10_000);
        ValueTask<RateLimitLease> queued = limiter.AcquireAsync(5000);
        using (RateLimitLease refused = await limiter.AcquireAsync(1))
        {
            Assert.False(refused.IsAcquired);
            Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter));
            Assert.Equal(TimeSpan.FromSeconds(3), retryAfter);
            Assert.True(refused.TryGetMetadata(MetadataName.ReasonPhrase, out string? reason));
            Assert.Contains("queue limit of 5000", reason, StringComparison.Ordinal);
        }

        all.Dispose();
        using (RateLimitLease granted = await queued.AsTask().WaitAsync(Bounded))
        {
            Assert.True(granted.IsAcquired);
        }

        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Disposing_the_limiter_refuses_the_queued_and_later_calls_throw_while_granted_leases_stay_valid()
    {
        using MemoryBudget budget = Budgets.Flat(10_000);
        var limiter = new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { QueueLimit = 20_000 });
        RateLimitLease held = limiter.AttemptAcquire(8000);
        ValueTask<RateLimitLease> head = limiter.AcquireAsync(5000);
        ValueTask<RateLimitLease> behind = limiter.AcquireAsync(1000);
        await Budgets.Until(() => budget.Queue.Count == 1, "the head waits on the budget");

        await limiter.DisposeAsync();
        Assert.False((await head.AsTask().WaitAsync(Bounded)).IsAcquired);
        Assert.False((await behind.AsTask().WaitAsync(Bounded)).IsAcquired);
        Assert.Throws<ObjectDisposedException>(() => limiter.AttemptAcquire(1));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await limiter.AcquireAsync(1));

        Assert.Equal(8000, budget.Reserved);
        held.Dispose();
        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public void Idle_duration_is_null_while_a_lease_is_held_and_counts_from_the_last_release()
    {
        var time = new FakeTimeProvider();
        using MemoryBudget budget = Budgets.Flat(10_000);
        using var limiter = new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { TimeProvider = time });
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromSeconds(5), limiter.IdleDuration);

        RateLimitLease lease = limiter.AttemptAcquire(10);
        time.Advance(TimeSpan.FromSeconds(7));
        Assert.Null(limiter.IdleDuration);
        lease.Dispose();
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(2), limiter.IdleDuration);
        Budgets.AssertEmpty(budget);
    }

    [Theory]
    [InlineData(0, 0, "BytesPerPermit")]
    [InlineData(1, -1, "QueueLimit")]
    public void Bad_settings_are_refused_naming_the_setting(long bytesPerPermit, int queueLimit, string setting)
    {
        using MemoryBudget budget = Budgets.Flat(10_000);
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { BytesPerPermit = bytesPerPermit, QueueLimit = queueLimit }));
        Assert.Equal(setting, e.ParamName);
        Assert.Contains(setting, e.Message, StringComparison.Ordinal);
    }
}
