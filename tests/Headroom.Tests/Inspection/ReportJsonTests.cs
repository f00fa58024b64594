using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Inspection;

/// <summary>
/// The report through System.Text.Json's source-generated context (issue 13): written and read back with reflection
/// switched off for this test assembly (JsonSerializerIsReflectionEnabledByDefault=false in its project).
/// </summary>
public sealed class ReportJsonTests
{
    private static readonly JsonSerializerOptions GeneratedOnly = new() { TypeInfoResolver = HeadroomJsonContext.Default };

    [Fact]
    public void Reflection_is_off_here_so_only_the_generated_metadata_can_serialise()
    {
        Assert.False(JsonSerializer.IsReflectionEnabledByDefault);
        Assert.Throws<InvalidOperationException>(() => JsonSerializer.Serialize(new { a = 1 }));
    }

    [Fact]
    public async Task A_report_taken_during_a_stall_round_trips_through_the_generated_context()
    {
        var clock = new FakeTimeProvider();
        using var budget = new MemoryBudget(new MemoryBudgetOptions
        {
            Name = "engine",
            Capacity = 100,
            MinWatermark = 0,
            LowWatermark = 0,
            HighWatermark = 0,
            CanaryInterval = Timeout.InfiniteTimeSpan,
            TimeProvider = clock,
        });
        using var cancel = new CancellationTokenSource();
        using MemoryConsumer query = budget.RegisterConsumer("query-7", cancel, MemoryConsumer.NeverKill);
        MemoryReservation reservation = await budget.ReserveAsync(10);
        budget.Charge(90, AllocationMode.NoWait);
        ValueTask wait;
        using (query.Enter())
        {
            wait = budget.ChargeAsync(5, AllocationMode.NoFail, site: "btree-split");
        }

        clock.Advance(TimeSpan.FromSeconds(3));
        MemoryBudgetReport report = budget.Inspect();

        string json = JsonSerializer.Serialize(report, GeneratedOnly);
        Assert.Contains("\"Mode\":\"NoFail\"", json, StringComparison.Ordinal); // enumerations by name
        Assert.Contains("\"Site\":\"btree-split\"", json, StringComparison.Ordinal);
        MemoryBudgetReport back = JsonSerializer.Deserialize<MemoryBudgetReport>(json, GeneratedOnly)!;
        Assert.Equal(report.Waiters, back.Waiters);
        Assert.Equal(report.Reservations, back.Reservations);
        Assert.Equal(report.Consumers, back.Consumers);
        Assert.Equal(report.Counters, back.Counters);
        Assert.Equal(report.Pressure.Some, back.Pressure.Some);
        Assert.Equal(report.Time, back.Time);
        Assert.Equal(json, JsonSerializer.Serialize(back, HeadroomJsonContext.Default.MemoryBudgetReport));

        PressureReading pressure = budget.Pressure.Read();
        Assert.Equal(pressure.Some, JsonSerializer.Deserialize(JsonSerializer.Serialize(pressure, HeadroomJsonContext.Default.PressureReading), HeadroomJsonContext.Default.PressureReading)!.Some);

        reservation.Dispose();
        await wait;
        TestBudgets.UnchargeAs(query, budget, 5);
        budget.Uncharge(90);
        TestBudgets.AssertEmpty(budget);
    }
}
