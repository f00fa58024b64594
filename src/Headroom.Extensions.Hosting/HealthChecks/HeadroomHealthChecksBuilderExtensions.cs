using Headroom.Extensions.Hosting;
using Headroom.Extensions.Hosting.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The health check of a Headroom budget tree, for <c>services.AddHealthChecks()</c>.</summary>
public static class HeadroomHealthChecksBuilderExtensions
{
    /// <summary>The default stall share from which the check reports degraded: 10 % of the last 10 s.</summary>
    public const double DefaultDegradedAbove = 10;

    /// <summary>
    /// Adds a check of a budget of <c>AddHeadroom</c>'s tree: unhealthy (<paramref name="failureStatus"/>) while an OOM
    /// kill in its subtree is pending (the victim has neither released its memory nor been given up on) or a charge there
    /// has waited past its canary interval; degraded under pressure, when charges of its subtree were stalled at least
    /// <paramref name="degradedAbove"/> percent of the last 10 s (its <see cref="Headroom.MemoryBudget.Pressure"/>, psi's "some"
    /// avg10; for the process budget its cgroup's <c>memory.pressure</c> as well); healthy otherwise, with its counters
    /// and pressure figures as data.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="budget">The budget's name; <see langword="null"/> for the root.</param>
    /// <param name="failureStatus">The status reported when unhealthy; <see langword="null"/> for <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter the check by (for example "ready").</param>
    /// <param name="degradedAbove">The stall share, in percent of the last 10 s, from which the check reports degraded: above 0, at most 100.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="degradedAbove"/> is not above 0 or is above 100.</exception>
    /// <remarks>An unknown <paramref name="budget"/> makes the check report its failure status with the exception that names the budgets there are.</remarks>
    public static IHealthChecksBuilder AddHeadroom(this IHealthChecksBuilder builder, string name = "headroom", string? budget = null, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null, double degradedAbove = DefaultDegradedAbove)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!(degradedAbove > 0 && degradedAbove <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(degradedAbove), degradedAbove,
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"The stall share from which the check is degraded is a percentage above 0 and at most 100; it was {degradedAbove}."));
        }

        return builder.Add(new HealthCheckRegistration(
            name,
            sp =>
            {
                HeadroomBudgets budgets = sp.GetRequiredService<HeadroomBudgets>();
                return new MemoryBudgetHealthCheck(() => budget is null ? budgets.Root : budgets[budget], degradedAbove);
            },
            failureStatus,
            tags));
    }
}
