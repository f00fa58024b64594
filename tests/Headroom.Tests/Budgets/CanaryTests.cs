using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Budgets;

/// <summary>Semantics §3, the canary: a stalled wait is reported, at most once per interval for the whole tree.</summary>
public sealed class CanaryTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _clock = new();
    private readonly FakeLogger _logger = new();

    private MemoryBudget Create() => new(new MemoryBudgetOptions
    {
        Name = "canary",
        Capacity = 100,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
        CanaryInterval = Interval,
        TimeProvider = _clock,
        Logger = _logger,
    });

    [Fact]
    public async Task A_stall_is_reported_once_per_interval_however_many_wait()
    {
        using MemoryBudget budget = Create();
        budget.Charge(100, AllocationMode.NoWait);
        ValueTask[] waits = [.. Enumerable.Range(0, 50).Select(_ => budget.ChargeAsync(1, AllocationMode.NoFail, site: "journal"))];

        _clock.Advance(Interval - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, _logger.Collector.Count);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        FakeLogRecord record = Assert.Single(_logger.Collector.GetSnapshot());
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Contains("stall", record.Message, StringComparison.Ordinal);
        Assert.Contains("journal", record.Message, StringComparison.Ordinal);
        Assert.Contains("50 waiter(s) stalled", record.Message, StringComparison.Ordinal);

        _clock.Advance(Interval / 2);
        Assert.Equal(1, _logger.Collector.Count);
        _clock.Advance(Interval / 2);
        Assert.Equal(2, _logger.Collector.Count);

        budget.Uncharge(50);
        foreach (ValueTask wait in waits)
        {
            await wait;
        }

        _clock.Advance(Interval * 3);
        Assert.Equal(2, _logger.Collector.Count); // nobody waits: the canary is quiet

        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_wait_shorter_than_the_interval_is_not_reported()
    {
        using MemoryBudget budget = Create();
        budget.Charge(100, AllocationMode.NoWait);
        ValueTask wait = budget.ChargeAsync(10, AllocationMode.NoFail);
        _clock.Advance(Interval / 2);
        budget.Uncharge(10);
        await wait;
        _clock.Advance(Interval * 2);
        Assert.Equal(0, _logger.Collector.Count);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task An_infinite_interval_turns_the_canary_off()
    {
        using var budget = new MemoryBudget(new MemoryBudgetOptions
        {
            Capacity = 100, MinWatermark = 0, LowWatermark = 0, HighWatermark = 0,
            CanaryInterval = Timeout.InfiniteTimeSpan, TimeProvider = _clock, Logger = _logger,
        });
        budget.Charge(100, AllocationMode.NoWait);
        ValueTask wait = budget.ChargeAsync(10, AllocationMode.NoFail);
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(0, _logger.Collector.Count);
        budget.Uncharge(10);
        await wait;
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_site_policy_sets_its_own_canary_interval()
    {
        using MemoryBudget budget = Create();
        budget.SetSitePolicy("journal", new SitePolicy { CanaryInterval = TimeSpan.FromSeconds(2) });
        budget.SetSitePolicy("scrub", new SitePolicy { CanaryInterval = Timeout.InfiniteTimeSpan });
        budget.Charge(100, AllocationMode.NoWait);
        ValueTask scrub = budget.ChargeAsync(5, AllocationMode.NoFail, site: "scrub");
        ValueTask journal = budget.ChargeAsync(5, AllocationMode.NoFail, site: "journal");

        _clock.Advance(TimeSpan.FromSeconds(2));
        FakeLogRecord record = Assert.Single(_logger.Collector.GetSnapshot());
        Assert.Contains("journal", record.Message, StringComparison.Ordinal); // the silenced older waiter is not the one reported
        Assert.Contains("1 waiter(s) stalled", record.Message, StringComparison.Ordinal);

        budget.Uncharge(10);
        await scrub;
        await journal;
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }
}
