using Headroom.Extensions.Hosting;
using Headroom.Extensions.Hosting.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The health check of a Headroom budget tree, for <c>services.AddHealthChecks()</c>.</summary>
public static class HeadroomHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a check of a budget of <c>AddHeadroom</c>'s tree: unhealthy (<paramref name="failureStatus"/>) while an OOM
    /// kill in its subtree is pending (the victim has neither released its memory nor been given up on) or a charge there
    /// has waited past its canary interval; healthy otherwise, with its counters as data.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="budget">The budget's name; <see langword="null"/> for the root.</param>
    /// <param name="failureStatus">The status reported when unhealthy; <see langword="null"/> for <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter the check by (for example "ready").</param>
    /// <returns>The same builder.</returns>
    public static IHealthChecksBuilder AddHeadroom(this IHealthChecksBuilder builder, string name = "headroom", string? budget = null, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            sp =>
            {
                HeadroomBudgets budgets = sp.GetRequiredService<HeadroomBudgets>();
                return new MemoryBudgetHealthCheck(() => budget is null ? budgets.Root : budgets[budget]);
            },
            failureStatus,
            tags));
    }
}
