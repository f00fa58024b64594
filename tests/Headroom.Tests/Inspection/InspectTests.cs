using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Inspection;

/// <summary>
/// MemoryBudget.Inspect (issue 13): during a stall the report shows the waiter (size, mode, site, consumer, how long),
/// the reservations with what was drawn and by whom, consumers, reclaimers, children, the last OOM reports and the PSI.
/// </summary>
public sealed class InspectTests
{
    private readonly FakeTimeProvider _clock = new();

    private MemoryBudget Create(long capacity = 1000) => new(new MemoryBudgetOptions
    {
        Name = "engine",
        Capacity = capacity,
        MinWatermark = 0,
        LowWatermark = 0,
        HighWatermark = 0,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        TimeProvider = _clock,
    });

    [Fact]
    public async Task A_report_taken_during_a_stall_shows_the_waiter_its_size_mode_site_and_consumer()
    {
        using MemoryBudget budget = Create();
        MemoryBudget tenant = budget.CreateChild(TestBudgets.FlatChild("tenant-42", 500));
        using var cancel = new CancellationTokenSource();
        using MemoryConsumer query = tenant.RegisterConsumer("query-7", cancel, MemoryConsumer.NeverKill); // a wait, not a kill
        tenant.Charge(500, AllocationMode.NoWait);

        ValueTask wait;
        using (query.Enter())
        {
            wait = tenant.ChargeAsync(64, AllocationMode.NoFail, site: "journal");
        }

        _clock.Advance(TimeSpan.FromMilliseconds(1500));
        MemoryBudgetReport report = budget.Inspect();

        WaiterReport waiter = Assert.Single(report.Waiters);
        Assert.Equal(new WaiterReport("tenant-42", "tenant-42", 64, AllocationMode.NoFail, "journal", "query-7", TimeSpan.FromMilliseconds(1500), Reservation: false), waiter);
        ConsumerReport consumer = Assert.Single(report.Consumers);
        Assert.Equal(new ConsumerReport("query-7", "tenant-42", 0, 0, MemoryConsumer.NeverKill, Killed: false, StalledCharges: 1), consumer);
        Assert.Equal(500, Assert.Single(report.Children).Used);
        Assert.Equal("tenant-42", report.Children[0].Name);
        Assert.Equal(500, report.Counters.Used);
        Assert.Equal(1, report.Pressure.StalledWaiters);
        Assert.Equal(1_500_000, report.Pressure.Some.TotalMicroseconds);
        Assert.Equal(1_500_000, report.Pressure.Full.TotalMicroseconds); // its only consumer is stalled

        string text = report.ToString();
        Assert.Contains("charge of 64 bytes on 'tenant-42' (queued at 'tenant-42'), NoFail, site journal, consumer query-7, waiting 1500 ms", text, StringComparison.Ordinal);
        Assert.Contains("query-7 on 'tenant-42': charged 0, reserved 0, adj -1000, 1 stalled", text, StringComparison.Ordinal);
        Assert.Contains("reclaimers: none", text, StringComparison.Ordinal);

        Assert.Single(tenant.Inspect().Waiters); // the child's own report has it too

        tenant.Uncharge(64);
        await wait;
        MemoryBudgetReport after = budget.Inspect();
        Assert.Empty(after.Waiters);
        Assert.Equal(64, Assert.Single(after.Consumers).Charged);
        Assert.Equal(0, after.Consumers[0].StalledCharges);

        TestBudgets.UnchargeAs(query, tenant, 64);
        tenant.Uncharge(436);
        TestBudgets.AssertEmpty(budget, tenant);
    }

    [Fact]
    public async Task Reservations_show_amount_drawn_and_their_consumer_and_reclaimers_what_they_could_free()
    {
        using MemoryBudget budget = Create();
        using var cancel = new CancellationTokenSource();
        using MemoryConsumer txn = budget.RegisterConsumer("txn-1", cancel);
        using IDisposable cache = budget.RegisterReclaimer(new FixedReclaimer(123), new ReclaimerOptions { Domain = "fs", DoesIo = true, Cost = 3 });
        using IDisposable broken = budget.RegisterReclaimer(new ThrowingReclaimer(), new ReclaimerOptions { Domain = "index" });
        MemoryReservation reservation;
        using (txn.Enter())
        {
            reservation = await budget.ReserveAsync(300, ReservationMode.Tokens);
        }

        MemoryReservation anonymous = await budget.ReserveAsync(50);
        using (reservation.Enter())
        {
            budget.Charge(100, AllocationMode.NoWait); // drawn from the reservation first (Tokens)
        }

        MemoryBudgetReport report = budget.Inspect();
        Assert.Equal(
            [new ReservationReport("engine", ReservationMode.Tokens, 300, 100, 200, "txn-1"), new ReservationReport("engine", ReservationMode.Watermark, 50, 0, 50, null)],
            report.Reservations.OrderByDescending(r => r.Amount));
        Assert.Equal(250, report.Counters.Reserved);
        Assert.Equal(200, Assert.Single(report.Consumers).Reserved);
        Assert.Equal(
            [new ReclaimerReport(nameof(FixedReclaimer), "engine", "fs", 3, true, 123), new ReclaimerReport(nameof(ThrowingReclaimer), "engine", "index", ReclaimerOptions.DefaultCost, false, null)],
            report.Reclaimers);
        Assert.Contains("ThrowingReclaimer on 'engine' (domain 'index', cost 2): reclaimable unknown (it threw)", report.ToString(), StringComparison.Ordinal);

        await reservation.DisposeAsync();
        anonymous.Dispose();
        Assert.Empty(budget.Inspect().Reservations);
        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task The_last_OOM_reports_are_kept_newest_last()
    {
        using MemoryBudget budget = Create();
        using var cancel = new CancellationTokenSource();
        using MemoryConsumer victim = budget.RegisterConsumer("query-9", cancel);
        MemoryReservation held;
        using (victim.Enter())
        {
            held = await budget.ReserveAsync(600);
        }

        budget.Charge(300, AllocationMode.NoWait);
        await budget.ChargeAsync(200, AllocationMode.NoFail); // no reclaimer: the killer reaps the victim's 600
        await victim.Killing;

        OomSummary oom = Assert.Single(budget.Inspect().OomReports);
        Assert.Equal("query-9", oom.Victim);
        Assert.Equal(200, oom.RequestedBytes);
        Assert.Equal("engine", oom.ShortBudget.Name);
        Assert.Equal("query-9", Assert.Single(oom.Candidates).Name);
        Assert.Contains("victim query-9", budget.Inspect().ToString(), StringComparison.Ordinal);
        Assert.True(held.IsDisposed);

        budget.Uncharge(500);
        TestBudgets.AssertEmpty(budget);
    }

    private sealed class FixedReclaimer(long reclaimable) : IMemoryReclaimer
    {
        public long GetReclaimableBytes() => reclaimable;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => default;
    }

    private sealed class ThrowingReclaimer : IMemoryReclaimer
    {
        public long GetReclaimableBytes() => throw new InvalidOperationException("broken");

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => default;
    }
}
