using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Reclaim;

/// <summary>Semantics §6: a reclaimer that throws, hangs or lies never corrupts accounting nor stalls the caller forever.</summary>
public sealed class FaultTests
{
    private readonly FakeTimeProvider _clock = new();
    private readonly FakeLogger _logger = new();

    private MemoryBudget Create() => new(new MemoryBudgetOptions
    {
        Capacity = 1000,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        TimeProvider = _clock,
        Logger = _logger,
    });

    [Fact]
    public void A_throwing_reclaimer_is_logged_backed_off_and_the_others_still_give()
    {
        using MemoryBudget budget = Create();
        var broken = new TestCache(budget, 300) { During = _ => throw new InvalidOperationException("corrupt") };
        var healthy = new TestCache(budget, 300);
        using IDisposable b = budget.RegisterReclaimer(broken, new ReclaimerOptions { Domain = "broken", Cost = 1, Timeout = Timeout.InfiniteTimeSpan });
        using IDisposable h = budget.RegisterReclaimer(healthy, new ReclaimerOptions { Domain = "healthy", Cost = 8, Timeout = Timeout.InfiniteTimeSpan });
        budget.Charge(400, AllocationMode.NoWait);

        budget.Charge(200, AllocationMode.RetryMayFail);
        Assert.Single(broken.Asked); // called once, then backed off
        Assert.Equal(300, broken.Cached);
        Assert.Equal(100, healthy.Cached);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Exception is InvalidOperationException && r.Message.Contains("'broken'", StringComparison.Ordinal));

        budget.Uncharge(200);
        budget.Charge(200, AllocationMode.RetryMayFail); // still backed off: the healthy one gives again
        Assert.Single(broken.Asked);

        _clock.Advance(TimeSpan.FromSeconds(2));
        broken.During = null;
        budget.Uncharge(200);
        budget.Charge(250, AllocationMode.RetryMayFail); // back after its backoff: cheapest, it gives first
        Assert.True(broken.Asked.Count > 1);
        Assert.True(broken.Cached < 300);

        budget.Uncharge(650);
        broken.Drop();
        healthy.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_throwing_logger_cannot_skip_the_back_off_of_a_throwing_reclaimer()
    {
        using MemoryBudget budget = new(new MemoryBudgetOptions
        {
            Capacity = 1000,
            MinWatermark = 0,
            LowWatermark = 0,
            HighWatermark = 0,
            CanaryInterval = Timeout.InfiniteTimeSpan,
            TimeProvider = _clock,
            Logger = new ThrowingLogger(),
        });
        var broken = new TestCache(budget, 300) { During = _ => throw new InvalidOperationException("corrupt") };
        var healthy = new TestCache(budget, 300);
        using IDisposable b = budget.RegisterReclaimer(broken, new ReclaimerOptions { Domain = "broken", Cost = 1, Timeout = Timeout.InfiniteTimeSpan });
        using IDisposable h = budget.RegisterReclaimer(healthy, new ReclaimerOptions { Domain = "healthy", Cost = 8, Timeout = Timeout.InfiniteTimeSpan });
        budget.Charge(400, AllocationMode.NoWait);

        // The report of the fault throws out of the charge that found it (the logger is the caller's); the back-off stands.
        Exception? reported = Record.Exception(() => budget.Charge(200, AllocationMode.RetryMayFail));
        Assert.IsType<FormatException>(reported);
        Assert.Single(broken.Asked);
        long charged = 400;
        Assert.Equal(charged, budget.Used - broken.Cached - healthy.Cached);

        budget.Charge(200, AllocationMode.RetryMayFail); // backed off: not asked again, the healthy one gives
        charged += 200;
        Assert.Single(broken.Asked);
        Assert.Equal(charged, budget.Used - broken.Cached - healthy.Cached);

        budget.Uncharge(charged);
        broken.During = null;
        broken.Drop();
        healthy.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    /// <summary>A logger whose every write throws, as a misconfigured provider may.</summary>
    private sealed class ThrowingLogger : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new FormatException("the logger is broken");
    }

    [Fact]
    public async Task A_reclaimer_that_hangs_past_its_timeout_is_abandoned_and_reported()
    {
        using MemoryBudget budget = Create();
        using var release = new SemaphoreSlim(0);
        using var entered = new SemaphoreSlim(0);
        var hanging = new TestCache(budget, 300) { During = _ => { entered.Release(); release.Wait(); } };
        var healthy = new TestCache(budget, 300);
        using IDisposable h1 = budget.RegisterReclaimer(hanging, new ReclaimerOptions { Domain = "hanging", Cost = 1, Timeout = TimeSpan.FromSeconds(5) });
        using IDisposable h2 = budget.RegisterReclaimer(healthy, new ReclaimerOptions { Domain = "healthy", Cost = 8, Timeout = Timeout.InfiniteTimeSpan });
        budget.Charge(400, AllocationMode.NoWait);

        Task charge = Task.Run(() => budget.Charge(200, AllocationMode.RetryMayFail));
        Assert.True(await entered.WaitAsync(TimeSpan.FromSeconds(30)));
        for (int i = 0; i < 300 && !charge.IsCompleted; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1)); // the caller's timeout timer may start a moment after the call does
            await Task.Delay(10);
        }

        await charge.WaitAsync(TimeSpan.FromSeconds(30)); // granted from the healthy one, without the hung call
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Message.Contains("abandoned", StringComparison.Ordinal));
        Assert.Equal(100, healthy.Cached);

        release.Release(); // the abandoned call finishes late; its bytes are still accounted exactly
        for (int i = 0; i < 3000 && hanging.Cached == 300; i++)
        {
            await Task.Delay(10);
        }

        Assert.True(hanging.Cached < 300);
        Assert.Equal(400 + 200 + hanging.Cached + healthy.Cached, budget.Used); // what it freed late left the budget, exactly
        budget.Uncharge(600);
        hanging.Drop();
        healthy.Drop();
        TestBudgets.AssertEmpty(budget);
    }
}
