using System.Diagnostics.Metrics;
using Headroom.Tests.Reclaim;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Diagnostics;

/// <summary>
/// Issue 13's metrics, read back through a <see cref="MeterListener"/>: names, units and tags, and values against what
/// each test itself charged, reserved, refused, reclaimed, killed and waited. Budget names are unique per test.
/// </summary>
public sealed class MeterTests
{
    private const string BudgetTag = "headroom.budget.name";

    private static string Unique(string what) => $"{what}-{Guid.NewGuid():N}";

    private static Recorded Single(IEnumerable<Recorded> recorded, string instrument, string budget, string? state = null) =>
        Assert.Single(recorded, r => r.Instrument.Name == instrument && r.Tag(BudgetTag) == budget && (state is null || r.Tag("headroom.memory.state") == state));

    [Fact]
    public void The_observable_instruments_report_every_live_budget_of_the_tree_and_stop_at_a_disposed_one()
    {
        string rootName = Unique("root"), childName = Unique("child");
        using var recorder = new MeterRecorder(rootName, childName);
        using MemoryBudget root = TestBudgets.Flat(1000, rootName);
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild(childName, 500));
        root.Charge(100, AllocationMode.NoWait);
        child.Charge(50, AllocationMode.NoWait);
        Assert.True(root.TryReserve(200, out MemoryReservation? reservation));

        IReadOnlyList<Recorded> seen = recorder.Observe();
        Recorded limit = Single(seen, "headroom.memory.limit", rootName);
        Assert.Equal(1000, limit.Value);
        Assert.Equal("By", limit.Instrument.Unit);
        Assert.Equal(500, Single(seen, "headroom.memory.limit", childName).Value);

        Recorded used = Single(seen, "headroom.memory.usage", rootName, "used");
        Assert.Equal("By", used.Instrument.Unit);
        Assert.Equal(150, used.Value); // the child's 50 count at the root too
        Assert.Equal(200, Single(seen, "headroom.memory.usage", rootName, "reserved").Value);
        Assert.Equal(0, Single(seen, "headroom.memory.usage", rootName, "stocked").Value);
        Assert.Equal(0, Single(seen, "headroom.memory.usage", rootName, "parked").Value);
        Assert.Equal(50, Single(seen, "headroom.memory.usage", childName, "used").Value);
        Assert.Equal(0, Single(seen, "headroom.memory.usage", childName, "reserved").Value);

        Recorded utilization = Single(seen, "headroom.memory.utilization", rootName);
        Assert.Equal("1", utilization.Instrument.Unit);
        Assert.Equal(0.15, utilization.Value, 9);
        Assert.Equal(0.1, Single(seen, "headroom.memory.utilization", childName).Value, 9);

        child.Uncharge(50);
        child.Dispose();
        seen = recorder.Observe();
        Assert.DoesNotContain(seen, r => r.Tag(BudgetTag) == childName);
        Assert.Equal(100, Single(seen, "headroom.memory.usage", rootName, "used").Value);

        reservation.Dispose();
        root.Uncharge(100);
        root.Dispose();
        Assert.Empty(recorder.Observe());
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public void The_usage_states_add_up_to_Committed_with_stocks_and_parked_buffers()
    {
        string name = Unique("stocked");
        using var recorder = new MeterRecorder(name);
        using MemoryBudget budget = TestBudgets.Flat(64L << 20, name);
        Assert.True(budget.TryCharge(4096)); // this thread's stock takes a batch
        using (budget.Rent(4096))
        {
        }

        long parked = budget.Parked, stocked = budget.Stocked;
        Assert.True(parked > 0, "a returned buffer is parked");
        Assert.True(stocked > 0, "the charge stocked a batch");

        IReadOnlyList<Recorded> seen = recorder.Observe();
        Assert.Equal(parked, Single(seen, "headroom.memory.usage", name, "parked").Value);
        Assert.Equal(stocked, Single(seen, "headroom.memory.usage", name, "stocked").Value);
        Assert.Equal(budget.Used - parked, Single(seen, "headroom.memory.usage", name, "used").Value);
        Assert.Equal(budget.Committed, seen.Where(r => r.Instrument.Name == "headroom.memory.usage").Sum(r => r.Value));
        Assert.Equal((double)budget.Used / budget.Capacity, Single(seen, "headroom.memory.utilization", name).Value, 12);

        budget.Uncharge(4096);
        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Each_refused_charge_counts_once_under_its_mode_and_the_budget_charged()
    {
        string rootName = Unique("refusing"), childName = Unique("refusing-child");
        using var recorder = new MeterRecorder(rootName, childName);
        using MemoryBudget root = TestBudgets.Flat(1000, rootName);
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild(childName, 1000));
        root.Charge(900, AllocationMode.NoWait);

        Assert.False(root.TryCharge(200));
        Assert.False(root.TryCharge(200, AllocationMode.MayFail));
        Assert.Throws<MemoryAllocationException>(() => root.Charge(200, AllocationMode.RetryMayFail));
        Assert.False(child.TryCharge(200)); // refused by the root, counted at the budget charged
        Assert.True(root.TryCharge(100)); // granted: not counted

        IReadOnlyList<Recorded> refusals = recorder.Of("headroom.memory.refusals");
        Assert.All(refusals, r => Assert.Equal("{refusal}", r.Instrument.Unit));
        Assert.All(refusals, r => Assert.Equal(1, r.Value));
        Assert.Equal(
            [(rootName, "no_wait"), (rootName, "may_fail"), (rootName, "retry_may_fail"), (childName, "no_wait")],
            refusals.Select(r => (r.Tag(BudgetTag), r.Tag("headroom.allocation.mode"))));

        root.Uncharge(1000);
        TestBudgets.AssertEmpty(root, child);
    }

    [Fact]
    public void Reclaimed_bytes_count_what_reclaimers_really_uncharged_not_what_they_claimed()
    {
        string name = Unique("reclaimed");
        using var recorder = new MeterRecorder(name);
        using MemoryBudget budget = TestBudgets.Flat(1000, name);
        var cache = new TestCache(budget, 600) { Exaggeration = 1000 };
        using (budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "cache" }))
        {
            budget.Charge(300, AllocationMode.NoWait);
            budget.Charge(500, AllocationMode.RetryMayFail); // needs 400 of the cache's 600

            long freed = 600 - cache.Cached;
            Assert.True(freed >= 400, $"reclaim freed {freed}");
            IReadOnlyList<Recorded> reclaimed = recorder.Of("headroom.memory.reclaimed");
            Assert.All(reclaimed, r => Assert.Equal("By", r.Instrument.Unit));
            Assert.Equal(freed, reclaimed.Sum(r => r.Value));
        }

        budget.Uncharge(800);
        cache.Free(cache.Cached);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task An_OOM_kill_counts_once_at_the_budget_that_was_out_of_memory()
    {
        string name = Unique("oom");
        using var recorder = new MeterRecorder(name);
        using MemoryBudget budget = TestBudgets.Flat(1000, name);
        using var cts = new CancellationTokenSource();
        using MemoryConsumer victim = budget.RegisterConsumer("query-7", cts);
        MemoryReservation held;
        using (victim.Enter())
        {
            held = await budget.ReserveAsync(500);
        }

        budget.Charge(400, AllocationMode.NoWait);
        await budget.ChargeAsync(300, AllocationMode.NoFail); // no reclaimer: the kill reaps the 500
        Assert.True(victim.IsKilled);
        Assert.True(held.IsDisposed);

        Recorded kill = Assert.Single(recorder.Of("headroom.memory.oom_kills"));
        Assert.Equal(1, kill.Value);
        Assert.Equal("{kill}", kill.Instrument.Unit);

        budget.Uncharge(700);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_canary_warning_counts_once_per_warning()
    {
        string name = Unique("canary");
        using var recorder = new MeterRecorder(name);
        var clock = new FakeTimeProvider();
        MemoryBudgetOptions options = TestBudgets.Flat(name, 1000);
        options.CanaryInterval = TimeSpan.FromSeconds(10);
        options.TimeProvider = clock;
        using var budget = new MemoryBudget(options);
        budget.Charge(1000, AllocationMode.NoWait);
        Task waiting = budget.ChargeAsync(100, AllocationMode.NoFail).AsTask();

        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty(recorder.Of("headroom.memory.canary_warnings"));
        clock.Advance(TimeSpan.FromSeconds(1)); // the canary's tick: one warning
        Recorded warning = Assert.Single(recorder.Of("headroom.memory.canary_warnings"));
        Assert.Equal("{warning}", warning.Instrument.Unit);
        clock.Advance(TimeSpan.FromSeconds(10)); // still stalled an interval later: a second warning
        Assert.Equal(2, recorder.Of("headroom.memory.canary_warnings").Count);

        budget.Uncharge(100);
        await waiting;
        budget.Uncharge(1000);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_wait_records_its_duration_by_the_tree_clock_with_its_mode_and_outcome()
    {
        string name = Unique("waits");
        using var recorder = new MeterRecorder(name);
        var clock = new FakeTimeProvider();
        MemoryBudgetOptions options = TestBudgets.Flat(name, 1000);
        options.TimeProvider = clock;
        using var budget = new MemoryBudget(options);
        budget.Charge(1000, AllocationMode.NoWait);

        Task granted = budget.ChargeAsync(100, AllocationMode.NoFail).AsTask();
        clock.Advance(TimeSpan.FromSeconds(2.5));
        budget.Uncharge(100);
        await granted;
        Recorded first = Assert.Single(await recorder.WaitFor("headroom.memory.wait.duration", 1));
        Assert.Equal("s", first.Instrument.Unit);
        Assert.Equal(2.5, first.Value, 9);
        Assert.Equal("no_fail", first.Tag("headroom.allocation.mode"));
        Assert.Equal("granted", first.Tag("headroom.memory.wait.outcome"));

        using var cts = new CancellationTokenSource();
        Task cancelled = budget.ChargeAsync(100, AllocationMode.NoFail, cancellationToken: cts.Token).AsTask();
        clock.Advance(TimeSpan.FromSeconds(1));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Recorded second = (await recorder.WaitFor("headroom.memory.wait.duration", 2))[1];
        Assert.Equal(1.0, second.Value, 9);
        Assert.Equal("cancelled", second.Tag("headroom.memory.wait.outcome"));

        Assert.Empty(budget.Tree.ByAge);
        budget.Uncharge(1000);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void The_charge_fast_path_allocates_nothing_while_the_meter_and_the_event_source_are_listened_to()
    {
        string exactName = Unique("quiet-exact"), stockedName = Unique("quiet-stocked");
        using var recorder = new MeterRecorder(exactName, stockedName);
        using var events = new EventRecorder(exactName, stockedName);
        using MemoryBudget exact = TestBudgets.Flat((1L << 20) - 1, exactName); // below 1 MiB: no stocks, every pair is two compare-and-swaps
        using MemoryBudget stocked = TestBudgets.Flat(64L << 20, stockedName);
        foreach (MemoryBudget budget in new[] { exact, stocked })
        {
            Pairs(budget, 100); // the stock's registration and first batch
            long before = GC.GetAllocatedBytesForCurrentThread();
            Pairs(budget, 10_000);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.DoesNotContain(recorder.All, r => !r.Instrument.IsObservable); // nothing was refused, reclaimed or waited
        Assert.DoesNotContain(events.All, e => e.EventName != "StockDrained");
        TestBudgets.AssertEmpty(exact, stocked);

        static void Pairs(MemoryBudget budget, int count)
        {
            for (int i = 0; i < count; i++)
            {
                Assert.True(budget.TryCharge(4096));
                budget.Uncharge(4096);
            }
        }
    }

    [Fact]
    public void A_meter_factory_creates_the_meter_that_the_budgets_report_to()
    {
        string first = Unique("factory-a"), second = Unique("factory-b");
        using ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        IMeterFactory factory = services.GetRequiredService<IMeterFactory>();
        using var collector = new MetricCollector<long>(factory, "Headroom", "headroom.memory.limit");
        using var recorder = new MeterRecorder(factory, first, second);
        using var a = new MemoryBudget(new MemoryBudgetOptions { Name = first, Capacity = 1000, MeterFactory = factory });
        using var b = new MemoryBudget(new MemoryBudgetOptions { Name = second, Capacity = 2000, MeterFactory = factory });

        Assert.Same(factory, a.Tree.Meter.Meter.Scope);
        Assert.Same(a.Tree.Meter, b.Tree.Meter); // one set of instruments per meter: the factory hands both roots the same one

        collector.RecordObservableInstruments();
        Assert.Equal(1000, Assert.Single(collector.GetMeasurementSnapshot(), m => m.Tags[BudgetTag] as string == first).Value);
        Assert.Equal(2000, Assert.Single(collector.GetMeasurementSnapshot(), m => m.Tags[BudgetTag] as string == second).Value);

        // Every reading came from the factory's meter (the recorder listens to that scope only), one instrument per name.
        IReadOnlyList<Recorded> seen = recorder.Observe();
        Assert.Equal(2, seen.Count(r => r.Instrument.Name == "headroom.memory.limit"));
        Assert.Single(seen.Where(r => r.Instrument.Name == "headroom.memory.limit").Select(r => r.Instrument).Distinct());

        using var shared = new MemoryBudget(TestBudgets.Flat(Unique("shared"), 1000));
        Assert.Null(shared.Tree.Meter.Meter.Scope); // without a factory: the process's own meter "Headroom"
        Assert.Equal("Headroom", shared.Tree.Meter.Meter.Name);
    }

    [Fact]
    public void Disposed_roots_are_forgotten_even_when_nobody_ever_collects()
    {
        using ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        IMeterFactory factory = services.GetRequiredService<IMeterFactory>(); // a meter of this test's own: nobody else tracks roots in it
        Headroom.Diagnostics.BudgetMeter meter = null!;
        for (int i = 0; i < 1000; i++)
        {
            using var root = new MemoryBudget(new MemoryBudgetOptions { Name = Unique("short-lived"), Capacity = 1000, MeterFactory = factory });
            root.CreateChild("child", 100).Dispose(); // children are found through their root: never tracked
            meter = root.Tree.Meter;
        }

        Assert.InRange(meter.TrackedRoots, 1, 128); // amortised: at most twice the live ones, or 64
    }

    [Fact]
    public void A_factory_that_makes_another_meter_is_refused_up_front_naming_the_setting()
    {
        using var factory = new WrongFactory();
        var options = new MemoryBudgetOptions { Name = Unique("wrong"), Capacity = 1000, MeterFactory = factory };
        ArgumentException e = Assert.Throws<ArgumentException>(() => new MemoryBudget(options));
        Assert.Equal("MeterFactory", e.ParamName);
        Assert.Contains("MemoryBudgetOptions.MeterFactory", e.Message, StringComparison.Ordinal);
        Assert.Contains("\"Other\"", e.Message, StringComparison.Ordinal);
    }

    private sealed class WrongFactory : IMeterFactory
    {
        private readonly Meter _meter = new("Other");

        public Meter Create(MeterOptions options) => _meter;

        public void Dispose() => _meter.Dispose();
    }
}
