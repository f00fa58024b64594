using Headroom.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Extensions.Hosting.Tests.HealthChecks;

/// <summary>
/// The health check's transitions, driven by real budget state: healthy; unhealthy while a parked charge has waited past
/// its canary interval (on a fake clock) or while an OOM victim unwinds; healthy again once memory comes back.
/// </summary>
public sealed class HealthCheckTests
{
    private static IHost Start(FakeTimeProvider clock, Action<IHealthChecksBuilder>? checks = null, Dictionary<string, string?>? settings = null)
    {
        IHost host = TestHosts.Build(settings ?? TestHosts.FlatRoot(), configure: b =>
        {
            b.Services.AddSingleton<TimeProvider>(clock);
            IHealthChecksBuilder health = b.Services.AddHealthChecks();
            if (checks is null)
            {
                health.AddHeadroom();
            }
            else
            {
                checks(health);
            }
        });
        return host;
    }

    private static async Task<HealthReportEntry> Check(IHost host, string name = "headroom")
    {
        HealthReport report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        return report.Entries[name];
    }

    [Fact]
    public async Task A_parked_NoFail_charge_turns_the_check_degraded_under_pressure_then_unhealthy_at_its_canary_interval_and_healthy_once_granted_and_decayed()
    {
        var clock = new FakeTimeProvider();
        IHost host = Start(clock);
        await host.StartAsync();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();

        HealthReportEntry entry = await Check(host);
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal(1000L, entry.Data["capacity"]);
        Assert.Equal(0L, entry.Data["used"]);

        root.Charge(1000, AllocationMode.NoWait);
        Task waiting = root.ChargeAsync(100, AllocationMode.NoFail).AsTask();
        TestBudgets.AssertQueued(root, 1);
        Assert.Equal(HealthStatus.Healthy, (await Check(host)).Status); // waiting, not yet stalled: the interval is 10 s

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HealthStatus.Healthy, (await Check(host)).Status); // stalled 1 s of the last 10: below 10 %
        clock.Advance(TimeSpan.FromSeconds(8));
        entry = await Check(host);
        Assert.Equal(HealthStatus.Degraded, entry.Status); // stalled 9 s: pressure, though no stall is declared yet
        Assert.Null(root.OldestStall);
        clock.Advance(TimeSpan.FromSeconds(1));
        entry = await Check(host);
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("waited 10 s", entry.Description, StringComparison.Ordinal);
        Assert.Equal(10.0, entry.Data["stall_seconds"]);
        Assert.Equal(TimeSpan.FromSeconds(10), root.OldestStall);

        root.Uncharge(1000);
        await waiting;
        Assert.Null(root.OldestStall);
        entry = await Check(host);
        Assert.Equal(HealthStatus.Degraded, entry.Status); // granted, but the last 10 s were mostly stalled
        Assert.Equal(100L, entry.Data["used"]);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HealthStatus.Healthy, (await Check(host)).Status); // the average has decayed
        root.Uncharge(100);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task A_site_with_a_silenced_canary_never_stalls_the_check_and_one_with_a_short_interval_stalls_it_sooner()
    {
        var clock = new FakeTimeProvider();
        Dictionary<string, string?> settings = TestHosts.FlatRoot();
        settings["Headroom:Sites:quiet:CanaryInterval"] = "-00:00:00.001"; // Timeout.InfiniteTimeSpan
        settings["Headroom:Sites:urgent:CanaryInterval"] = "00:00:01";
        IHost host = Start(clock, h => h.AddHeadroom(degradedAbove: 100), settings); // the canary's rule alone: pressure never reaches 100 % here
        await host.StartAsync();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        root.Charge(1000, AllocationMode.NoWait);

        Task quiet = root.ChargeAsync(10, AllocationMode.NoFail, site: "quiet").AsTask();
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HealthStatus.Healthy, (await Check(host)).Status);

        Task urgent = root.ChargeAsync(10, AllocationMode.NoFail, site: "urgent").AsTask();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HealthStatus.Unhealthy, (await Check(host)).Status);
        Assert.Equal(TimeSpan.FromSeconds(1), root.OldestStall); // the younger, stalled one: the older is silenced

        root.Uncharge(1000);
        await Task.WhenAll(quiet, urgent);
        Assert.Equal(HealthStatus.Healthy, (await Check(host)).Status);
        root.Uncharge(20);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task A_pending_OOM_kill_turns_the_check_unhealthy_until_the_victim_gives_its_memory_back()
    {
        var clock = new FakeTimeProvider();
        IHost host = Start(clock);
        await host.StartAsync();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        using var cancellation = new CancellationTokenSource();
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration onKill = cancellation.Token.Register(killed.SetResult);
        MemoryConsumer query = root.RegisterConsumer("query-7", cancellation);
        TestBudgets.ChargeAs(query, root, 1000);

        Task waiting = root.ChargeAsync(100, AllocationMode.NoFail).AsTask(); // no reclaimer, no progress: the killer chooses query-7
        await killed.Task.WaitAsync(TimeSpan.FromSeconds(30)); // a guard against a hang, not a measurement
        Assert.Same(query, root.UnwindingVictim);
        HealthReportEntry entry = await Check(host);
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("victim 'query-7'", entry.Description, StringComparison.Ordinal);
        Assert.Equal("query-7", entry.Data["victim"]);

        TestBudgets.UnchargeAs(query, root, 1000); // the victim unwinds: its memory comes back, the waiter is granted
        await waiting;
        Assert.Null(root.UnwindingVictim);
        Assert.Equal(HealthStatus.Healthy, (await Check(host)).Status);
        root.Uncharge(100);
        query.Dispose();

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task A_check_of_a_child_sees_its_own_subtree_only_and_reports_the_configured_failure_status()
    {
        var clock = new FakeTimeProvider();
        Dictionary<string, string?> settings = TestHosts.FlatRoot();
        settings["Headroom:Budgets:a:Capacity"] = "400";
        settings["Headroom:Budgets:a:MinWatermark"] = "0";
        settings["Headroom:Budgets:a:LowWatermark"] = "0";
        settings["Headroom:Budgets:a:HighWatermark"] = "0";
        settings["Headroom:Budgets:b:Capacity"] = "400";
        IHost host = Start(clock, h => h.AddHeadroom("a", budget: "a", failureStatus: HealthStatus.Degraded).AddHeadroom("b", budget: "b", tags: ["ready"]), settings);
        await host.StartAsync();
        HeadroomBudgets budgets = host.Services.GetRequiredService<HeadroomBudgets>();
        MemoryBudget a = budgets["a"];
        a.Charge(400, AllocationMode.NoWait);

        Task waiting = a.ChargeAsync(50, AllocationMode.NoFail).AsTask();
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(HealthStatus.Degraded, (await Check(host, "a")).Status);
        Assert.Equal(HealthStatus.Healthy, (await Check(host, "b")).Status);
        Assert.Null(budgets["b"].OldestStall);
        Assert.Equal(TimeSpan.FromSeconds(10), budgets.Root.OldestStall); // the root's subtree holds a's waiter

        a.Uncharge(400);
        await waiting;
        a.Uncharge(50);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(budgets.Root, a, budgets["b"]);
    }

    [Fact]
    public async Task Charges_stalled_a_share_of_the_last_10_s_turn_the_check_degraded_and_it_recovers_as_the_average_decays()
    {
        var clock = new FakeTimeProvider();
        Dictionary<string, string?> settings = TestHosts.FlatRoot();
        settings["Headroom:CanaryInterval"] = "01:00:00"; // no stall is declared here: only the pressure figures move
        IHost host = Start(clock, h => h.AddHeadroom(degradedAbove: 20), settings);
        await host.StartAsync();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        root.Charge(1000, AllocationMode.NoWait);

        Task waiting = root.ChargeAsync(100, AllocationMode.NoFail).AsTask();
        clock.Advance(TimeSpan.FromSeconds(2));
        HealthReportEntry entry = await Check(host);
        Assert.Equal(HealthStatus.Healthy, entry.Status); // one 2 s period stalled: avg10 is below 20 %
        double early = (double)entry.Data["pressure_some_avg10"];
        Assert.InRange(early, 0.01, 19.99);

        for (int i = 0; i < 5; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(2));
        }

        entry = await Check(host);
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains("under memory pressure", entry.Description, StringComparison.Ordinal);
        Assert.True((double)entry.Data["pressure_some_avg10"] >= 20, $"avg10 {entry.Data["pressure_some_avg10"]}");
        Assert.Equal(root.Pressure.Some.Avg10, (double)entry.Data["pressure_some_avg10"]);

        root.Uncharge(1000);
        await waiting;
        root.Uncharge(100);
        for (int i = 0; i < 30; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(2)); // a minute without stalls: avg10 decays below the threshold
        }

        entry = await Check(host);
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.True((double)entry.Data["pressure_some_avg10"] < 20);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public void A_degraded_threshold_outside_a_percentage_is_refused()
    {
        IHealthChecksBuilder checks = new ServiceCollection().AddHealthChecks();
        foreach (double bad in new[] { 0, -1, 100.5, double.NaN })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => checks.AddHeadroom(degradedAbove: bad));
            Assert.Equal("degradedAbove", e.ParamName);
        }
    }
}
