using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Headroom.Extensions.Hosting.HealthChecks;

/// <summary>
/// A budget's health from its own state: unhealthy (the registration's failure status) while an OOM kill in its subtree
/// is pending (<see cref="MemoryBudget.UnwindingVictim"/>) or a wait there has stalled past its canary interval
/// (<see cref="MemoryBudget.OldestStall"/>); degraded while its pressure stall information says charges there stall a
/// share of the time (psi "some", averaged over 10 s, at or above <paramref name="degradedAbove"/> percent; for the
/// process budget its cgroup's own figure counts too); healthy otherwise. The data carries the counters either way.
/// </summary>
internal sealed class MemoryBudgetHealthCheck(Func<MemoryBudget> budget, double degradedAbove) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        MemoryBudget b = budget();
        MemoryBudgetSnapshot s = b.GetSnapshot();
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["budget"] = b.Name,
            ["capacity"] = s.Capacity,
            ["used"] = s.Used,
            ["reserved"] = s.Reserved,
            ["available"] = s.Capacity - s.Committed,
        };

        if (b.UnwindingVictim is { } victim)
        {
            data["victim"] = victim.Name;
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus,
                $"Budget '{b.Name}': the OOM killer's victim '{victim.Name}' (of budget '{victim.Budget.Name}') has not yet released its memory.", data: data));
        }

        if (b.OldestStall is { } stall)
        {
            data["stall_seconds"] = stall.TotalSeconds;
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus,
                string.Create(CultureInfo.InvariantCulture, $"Budget '{b.Name}': a charge has waited {stall.TotalSeconds:0.###} s for memory, past its canary interval."), data: data));
        }

        PressureReading pressure = b.Pressure.Read();
        data["pressure_some_avg10"] = pressure.Some.Avg10;
        data["pressure_full_avg10"] = pressure.Full.Avg10;
        double? group = pressure.GroupPressure?.Some.Avg10;
        if (group is { } g)
        {
            data["cgroup_pressure_some_avg10"] = g;
        }

        if (pressure.Some.Avg10 >= degradedAbove || group >= degradedAbove)
        {
            return Task.FromResult(HealthCheckResult.Degraded(string.Create(CultureInfo.InvariantCulture,
                $"Budget '{b.Name}' is under memory pressure: charges stalled {pressure.Some.Avg10:0.##} % of the last 10 s{(group is { } k ? $" (its cgroup {k:0.##} %)" : "")}, at or above {degradedAbove:0.##} %."), data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy(
            string.Create(CultureInfo.InvariantCulture, $"Budget '{b.Name}': {s.Used} of {s.Capacity} bytes used, {s.Reserved} reserved."), data));
    }
}
