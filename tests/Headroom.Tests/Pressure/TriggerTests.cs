using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Pressure;

/// <summary>
/// Pressure triggers as /proc/pressure/memory takes them (issue 13): a threshold of stall time within a window, checked
/// ten times per window, at most one event per window; argument rules as psi's (window 500 ms to 10 s, threshold ≤ window).
/// </summary>
public sealed class TriggerTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100); // a tenth of the 1-s window: psi's poll rate
    private readonly FakeTimeProvider _clock = new();

    private MemoryBudget Create() => new(new MemoryBudgetOptions
    {
        Name = "triggered",
        Capacity = 100,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        TimeProvider = _clock,
    });

    private void Run(TimeSpan duration)
    {
        for (TimeSpan t = TimeSpan.Zero; t < duration; t += Step)
        {
            _clock.Advance(Step);
        }
    }

    [Fact]
    public async Task A_stall_past_the_threshold_fires_once_per_window_while_it_lasts()
    {
        using MemoryBudget budget = Create();
        var events = new List<PressureEvent>();
        DateTimeOffset start = _clock.GetUtcNow();
        using IDisposable trigger = budget.Pressure.AddTrigger("some 150000 1000000", events.Add);
        budget.Charge(100, AllocationMode.NoWait);

        ValueTask wait = budget.ChargeAsync(10, AllocationMode.NoFail);
        Run(TimeSpan.FromMilliseconds(100));
        Assert.Empty(events); // 100 ms stalled: below 150 ms
        Run(TimeSpan.FromMilliseconds(100));
        PressureEvent first = Assert.Single(events); // 200 ms ≥ 150 ms, at the first check past the crossing
        Assert.Equal(StallKind.Some, first.Kind);
        Assert.Equal("triggered", first.Budget);
        Assert.Equal(TimeSpan.FromMilliseconds(200), first.Stalled);
        Assert.Equal(TimeSpan.FromMilliseconds(150), first.Threshold);
        Assert.Equal(TimeSpan.FromSeconds(1), first.Window);
        Assert.Equal(start + TimeSpan.FromMilliseconds(200), first.Time);

        Run(TimeSpan.FromMilliseconds(2800)); // stalled throughout, 3 s in all: once per window
        Assert.Equal([200, 1200, 2200], events.Select(e => (e.Time - start).TotalMilliseconds));

        budget.Uncharge(10);
        await wait;
        Run(TimeSpan.FromSeconds(3));

        // The stall went on past the threshold after the event at 2.2 s: psi keeps that breach and reports it once the
        // rate limit ends (3.2 s) rather than drop it; then no stall, no event.
        Assert.Equal([200, 1200, 2200, 3200], events.Select(e => (e.Time - start).TotalMilliseconds));

        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Stalls_below_the_threshold_within_each_window_do_not_fire()
    {
        using MemoryBudget budget = Create();
        var events = new List<PressureEvent>();
        using IDisposable trigger = budget.Pressure.AddTrigger(StallKind.Some, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), events.Add);
        budget.Charge(100, AllocationMode.NoWait);

        for (int i = 0; i < 4; i++)
        {
            ValueTask wait = budget.ChargeAsync(10, AllocationMode.NoFail);
            Run(TimeSpan.FromMilliseconds(200)); // 200 ms of each 2 s: at most 200 ms + 80 % of the last window's 200 ms
            budget.Uncharge(10);
            await wait; // the granted waiter holds the 10 bytes: the budget is full again
            Run(TimeSpan.FromMilliseconds(1800));
        }

        Assert.Empty(events);
        Assert.Equal(800_000, budget.Pressure.Some.TotalMicroseconds);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_full_trigger_fires_only_while_every_consumer_is_stalled()
    {
        using MemoryBudget budget = Create();
        using var cancelA = new CancellationTokenSource();
        using var cancelB = new CancellationTokenSource();
        using MemoryConsumer a = budget.RegisterConsumer("a", cancelA, MemoryConsumer.NeverKill);
        using MemoryConsumer b = budget.RegisterConsumer("b", cancelB, MemoryConsumer.NeverKill);
        var some = new List<PressureEvent>();
        var full = new List<PressureEvent>();
        using IDisposable someTrigger = budget.Pressure.AddTrigger("some 100000 1000000", some.Add);
        using IDisposable fullTrigger = budget.Pressure.AddTrigger("full 100000 1000000", full.Add);
        budget.Charge(100, AllocationMode.NoWait);

        ValueTask aWait;
        using (a.Enter())
        {
            aWait = budget.ChargeAsync(10, AllocationMode.NoFail);
        }

        Run(TimeSpan.FromMilliseconds(500));
        Assert.Single(some);
        Assert.Empty(full); // b makes progress

        ValueTask bWait;
        using (b.Enter())
        {
            bWait = budget.ChargeAsync(10, AllocationMode.NoFail);
        }

        Run(TimeSpan.FromMilliseconds(200));
        PressureEvent e = Assert.Single(full);
        Assert.Equal(StallKind.Full, e.Kind);

        budget.Uncharge(20);
        await aWait;
        await bWait;
        TestBudgets.UnchargeAs(a, budget, 10);
        TestBudgets.UnchargeAs(b, budget, 10);
        budget.Uncharge(80);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_disposed_trigger_fires_no_more_and_a_throwing_callback_does_not_stop_the_others()
    {
        using MemoryBudget budget = Create();
        var kept = new List<PressureEvent>();
        var removed = new List<PressureEvent>();
        IDisposable gone = budget.Pressure.AddTrigger("some 100000 500000", removed.Add);
        using IDisposable thrower = budget.Pressure.AddTrigger("some 100000 500000", _ => throw new InvalidOperationException("the callback's fault"));
        using IDisposable trigger = budget.Pressure.AddTrigger("some 100000 500000", kept.Add);
        gone.Dispose();
        gone.Dispose(); // twice is harmless
        budget.Charge(100, AllocationMode.NoWait);

        ValueTask wait = budget.ChargeAsync(10, AllocationMode.NoFail);
        _clock.Advance(TimeSpan.FromMilliseconds(50));
        _clock.Advance(TimeSpan.FromMilliseconds(50));
        _clock.Advance(TimeSpan.FromMilliseconds(50));
        budget.Uncharge(10);
        await wait;

        Assert.Single(kept);
        Assert.Empty(removed);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_trigger_already_stalled_when_added_watches_the_stall_in_progress()
    {
        using MemoryBudget budget = Create();
        budget.Charge(100, AllocationMode.NoWait);
        ValueTask wait = budget.ChargeAsync(10, AllocationMode.NoFail);
        _clock.Advance(TimeSpan.FromSeconds(5));

        var events = new List<PressureEvent>();
        using (budget.Pressure.AddTrigger("some 300000 1000000", events.Add))
        {
            Run(TimeSpan.FromMilliseconds(200));
            Assert.Empty(events); // the window starts when the trigger is added: 5 s earlier do not count
            Run(TimeSpan.FromMilliseconds(100));
            Assert.Single(events);
        }

        budget.Uncharge(10);
        Assert.True(wait.IsCompletedSuccessfully);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Theory]
    [InlineData(499, 100)]
    [InlineData(10_001, 100)]
    [InlineData(0, 0)]
    public void A_window_outside_psi_range_is_refused(int windowMs, int thresholdMs)
    {
        using MemoryBudget budget = Create();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            budget.Pressure.AddTrigger(StallKind.Some, TimeSpan.FromMilliseconds(thresholdMs), TimeSpan.FromMilliseconds(windowMs), _ => { }));
        Assert.Equal("window", e.ParamName);
        Assert.Contains("500 ms to 10 s", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1001)]
    public void A_threshold_that_is_not_positive_or_exceeds_the_window_is_refused(int thresholdMs)
    {
        using MemoryBudget budget = Create();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            budget.Pressure.AddTrigger(StallKind.Full, TimeSpan.FromMilliseconds(thresholdMs), TimeSpan.FromSeconds(1), _ => { }));
        Assert.Equal("threshold", e.ParamName);
        Assert.Contains("not above its window", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("some 150000")]
    [InlineData("most 150000 1000000")]
    [InlineData("some -1 1000000")]
    [InlineData("some 150000 1000000 extra")]
    [InlineData("some 1.5 1000000")]
    public void A_trigger_written_wrongly_is_refused_with_its_text(string text)
    {
        using MemoryBudget budget = Create();
        var e = Assert.Throws<ArgumentException>(() => budget.Pressure.AddTrigger(text, _ => { }));
        Assert.Equal("trigger", e.ParamName);
        Assert.Contains($"\"{text}\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_written_form_is_checked_by_the_same_rules()
    {
        using MemoryBudget budget = Create();
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => budget.Pressure.AddTrigger("some 100 400000", _ => { })).ParamName);
        Assert.Equal("threshold", Assert.Throws<ArgumentOutOfRangeException>(() => budget.Pressure.AddTrigger("full 2000000 1000000", _ => { })).ParamName);
        Assert.Throws<ArgumentNullException>(() => budget.Pressure.AddTrigger("some 100000 1000000", null!));
        using (budget.Pressure.AddTrigger("some 500000 500000", _ => { }))
        {
        }

        using (budget.Pressure.AddTrigger("full 10000000 10000000", _ => { }))
        {
        }
    }
}
