using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Headroom.Extensions.Hosting.Budgets;

/// <summary>
/// Builds the tree when the host starts rather than at its first use, so that the memory cache is charged, the
/// reclaimers registered and site reloads followed from the start; runs after the options were validated.
/// </summary>
internal sealed class BudgetTreeStartup(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.GetRequiredService<HostedBudgetTree>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask; // the container disposes the tree after the host stops
}
