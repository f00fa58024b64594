using System.Diagnostics.Tracing;
using Headroom.Diagnostics;
using Headroom.Stocks;
using Headroom.Tests.Reclaim;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Diagnostics;

/// <summary>Issue 13's event source "Headroom", read back through an <see cref="EventListener"/>: ids, names and payloads against what each test did.</summary>
public sealed class EventSourceTests
{
    private static string Unique(string what) => $"{what}-{Guid.NewGuid():N}";

    [Fact]
    public void The_ids_and_names_are_the_documented_ones()
    {
        string manifest = EventSource.GenerateManifest(typeof(HeadroomEventSource), typeof(HeadroomEventSource).Assembly.Location)!;
        Assert.Contains("name=\"Headroom\"", manifest, StringComparison.Ordinal);
        foreach ((int id, string name) in new[] { (1, "WaitBegun"), (2, "WaitEnded"), (3, "Reclaimed"), (4, "OomKill"), (5, "StockDrained") })
        {
            Assert.Contains($"<event value=\"{id}\" version=\"0\" level=", manifest, StringComparison.Ordinal);
            Assert.Contains($"symbol=\"{name}\"", manifest, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_wait_writes_its_beginning_and_its_end_with_size_mode_site_and_duration()
    {
        string name = Unique("traced-wait");
        using var events = new EventRecorder(name);
        var clock = new FakeTimeProvider();
        MemoryBudgetOptions options = TestBudgets.Flat(name, 1000);
        options.TimeProvider = clock;
        using var budget = new MemoryBudget(options);
        budget.Charge(1000, AllocationMode.NoWait);

        using var cts = new CancellationTokenSource();
        using MemoryConsumer consumer = budget.RegisterConsumer("scan-1", cts);
        Task waiting;
        using (consumer.Enter())
        {
            waiting = budget.ChargeAsync(100, AllocationMode.NoFail, site: "journal").AsTask();
        }

        EventWrittenEventArgs begun = Assert.Single(events.Named("WaitBegun"));
        Assert.Equal(1, begun.EventId);
        Assert.Equal(EventLevel.Informational, begun.Level);
        Assert.Equal(["budget", "bytes", "mode", "site", "consumer"], begun.PayloadNames);
        Assert.Equal([name, 100L, "no_fail", "journal", "scan-1"], begun.Payload);

        clock.Advance(TimeSpan.FromSeconds(1.5));
        budget.Uncharge(100);
        await waiting;
        EventWrittenEventArgs ended = Assert.Single(await events.WaitFor("WaitEnded", 1));
        Assert.Equal(2, ended.EventId);
        Assert.Equal(["budget", "bytes", "mode", "site", "durationSeconds", "outcome"], ended.PayloadNames);
        Assert.Equal([name, 100L, "no_fail", "journal", 1.5, "granted"], ended.Payload);

        TestBudgets.UnchargeAs(consumer, budget, 100); // the consumer's granted charge
        budget.Uncharge(900); // what is left of the first 1000
        Assert.Equal(0, consumer.Charged);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_reclaimer_call_writes_its_name_domain_ask_and_what_it_really_freed()
    {
        string name = Unique("traced-reclaim");
        using var events = new EventRecorder(name);
        using MemoryBudget budget = TestBudgets.Flat(1000, name);
        var cache = new TestCache(budget, 600) { Exaggeration = 1000 };
        using (budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "pages" }))
        {
            budget.Charge(300, AllocationMode.NoWait);
            budget.Charge(500, AllocationMode.RetryMayFail);
        }

        IReadOnlyList<EventWrittenEventArgs> calls = events.Named("Reclaimed");
        Assert.NotEmpty(calls);
        Assert.All(calls, e => Assert.Equal(3, e.EventId));
        Assert.All(calls, e => Assert.Equal(["budget", "reclaimer", "domain", "asked", "freed"], e.PayloadNames));
        Assert.All(calls, e => Assert.Equal((nameof(TestCache), "pages"), ((string)EventRecorder.Field(e, "reclaimer")!, (string)EventRecorder.Field(e, "domain")!)));
        Assert.Equal(cache.Asked, calls.Select(e => (long)EventRecorder.Field(e, "asked")!));
        Assert.Equal(600 - cache.Cached, calls.Sum(e => (long)EventRecorder.Field(e, "freed")!)); // uncharged, not the claim

        budget.Uncharge(800);
        cache.Free(cache.Cached);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_kill_writes_the_budget_the_victim_and_what_it_held()
    {
        string name = Unique("traced-oom");
        using var events = new EventRecorder(name);
        using MemoryBudget budget = TestBudgets.Flat(1000, name);
        using var cts = new CancellationTokenSource();
        using MemoryConsumer victim = budget.RegisterConsumer("query-7", cts);
        TestBudgets.ChargeAs(victim, budget, 600);
        budget.Charge(300, AllocationMode.NoWait);

        Task waiting = budget.ChargeAsync(200, AllocationMode.NoFail).AsTask(); // no reclaimer: the killer chooses query-7
        EventWrittenEventArgs kill = Assert.Single(events.Named("OomKill"));
        Assert.Equal(4, kill.EventId);
        Assert.Equal(EventLevel.Warning, kill.Level);
        Assert.Equal(["budget", "victim", "victimBudget", "charged", "requestedBytes"], kill.PayloadNames);
        Assert.Equal([name, "query-7", name, 600L, 200L], kill.Payload);

        TestBudgets.UnchargeAs(victim, budget, 600); // the victim unwinds: the waiter fits
        await waiting;
        budget.Uncharge(500);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_drained_stock_writes_its_budget_and_bytes()
    {
        string name = Unique("traced-stock");
        using var events = new EventRecorder(name);
        using MemoryBudget budget = TestBudgets.Flat(16L << 20, name);
        Assert.True(budget.TryCharge(4096)); // this thread's stock takes a batch
        long stocked = budget.Stocked;
        Assert.Equal(StockBounds.Batch(budget.Capacity), stocked);

        budget.DrainStocks();
        EventWrittenEventArgs drained = Assert.Single(events.Named("StockDrained"));
        Assert.Equal(5, drained.EventId);
        Assert.Equal([name, stocked], drained.Payload);

        budget.Uncharge(4096);
        TestBudgets.AssertEmpty(budget);
    }
}
