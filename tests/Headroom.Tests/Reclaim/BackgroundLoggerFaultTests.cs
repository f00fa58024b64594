using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Reclaim;

/// <summary>
/// Issue 10, item 7: no exception from user code stops background reclaim, the logger's included (the worker's own
/// report of a failure goes through the logger, and a logger that throws there must not end the worker).
/// </summary>
public sealed class BackgroundLoggerFaultTests
{
    private static readonly ReclaimerOptions Inline = new() { Domain = "cache", Timeout = Timeout.InfiniteTimeSpan };

    private readonly FakeTimeProvider _clock = new();

    /// <summary>Capacity 1000, min 100, low 200, high 300, canary off, on the fake clock.</summary>
    private MemoryBudget Create(ILogger logger) => new(new MemoryBudgetOptions
    {
        Capacity = 1000,
        MinWatermark = 100,
        LowWatermark = 200,
        HighWatermark = 300,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        TimeProvider = _clock,
        Logger = logger,
    });

    [Fact]
    public async Task A_logger_that_throws_does_not_stop_background_reclaim()
    {
        var logger = new ThrowingLogger();
        using MemoryBudget budget = Create(logger);
        int calls = 0;
        var cache = new TestCache(budget, 500) { During = _ => { if (Interlocked.Increment(ref calls) == 1) { throw new InvalidOperationException("corrupt"); } } };
        using IDisposable registration = budget.RegisterReclaimer(cache, Inline);
        Headroom.Reclaim.BackgroundReclaim worker = budget.Tree.Reclaimers.Background;

        budget.Charge(350, AllocationMode.NoWait); // the reclaimer throws, and so does the logger reporting it
        await Until(() => Volatile.Read(ref calls) >= 1 && !worker.IsRunning && !worker.IsSignalled);
        Assert.True(logger.Calls >= 1);

        // Below the low watermark again while the reclaimer backs off: the worker finds nothing it may call and waits
        // for its retry. Only then does the clock pass the back-off (the retry and the back-off are on the fake clock,
        // so a charge after the advance would race the retry's pass and might find the work already done).
        budget.Charge(10, AllocationMode.NoWait);
        await Until(() => !worker.IsRunning && !worker.IsSignalled);
        Assert.Equal(1, Volatile.Read(ref calls));
        _clock.Advance(TimeSpan.FromSeconds(2));
        await Until(() => budget.Free >= budget.HighWatermark && !worker.IsRunning);
        Assert.Equal(budget.HighWatermark, budget.Free);

        budget.Uncharge(360);
        cache.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    private static async Task Until(Func<bool> condition)
    {
        for (int i = 0; i < 3000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "the condition did not hold within 30 s");
    }

    /// <summary>A logger that throws on every message: user code the library must survive.</summary>
    private sealed class ThrowingLogger : ILogger
    {
        private int _calls;

        internal int Calls => Volatile.Read(ref _calls);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Interlocked.Increment(ref _calls);
            throw new InvalidOperationException("the logger is broken");
        }
    }
}
