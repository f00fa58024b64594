using Headroom;
using Headroom.Extensions.Hosting;
using Headroom.Extensions.Hosting.Budgets;
using Headroom.Extensions.Hosting.Configuration;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Headroom's budget tree in a service's container.</summary>
public static class HeadroomServiceCollectionExtensions
{
    /// <summary>
    /// Registers a budget tree built at host start from <see cref="HeadroomOptions"/> and validated then
    /// (<c>ValidateOnStart</c>): the root as the singleton <see cref="MemoryBudget"/> (the process budget unless a
    /// capacity is fixed), every budget by name in <see cref="HeadroomBudgets"/> and as a keyed <see cref="MemoryBudget"/>
    /// (an unknown name throws <see cref="KeyNotFoundException"/>), the container's <c>IMemoryCache</c>
    /// charged to it, site policies reloaded with the configuration. The container disposes the tree asynchronously.
    /// Calling it again returns a builder for the same registration.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder for the tree's options, budgets, reclaimers and site policies.</returns>
    public static HeadroomBuilder AddHeadroom(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.FirstOrDefault(static d => d.ServiceType == typeof(HeadroomRegistration))?.ImplementationInstance is HeadroomRegistration existing)
        {
            return new HeadroomBuilder(services, existing);
        }

        var registration = new HeadroomRegistration();
        services.AddSingleton(registration);
        services.AddOptions<HeadroomOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HeadroomOptions>, HeadroomOptionsValidation>());

        // MemoryCache counts the sizes it holds only when asked to; harmless for a cache that is never charged.
        services.AddOptions<MemoryCacheOptions>().PostConfigure<IOptions<HeadroomOptions>>(static (cache, headroom) => cache.TrackStatistics |= headroom.Value.ChargeMemoryCache);

        services.AddSingleton<HostedBudgetTree>();
        services.AddSingleton(static sp => sp.GetRequiredService<HostedBudgetTree>().Budgets);
        services.AddSingleton(static sp => sp.GetRequiredService<HostedBudgetTree>().Budgets.Root);

        // Every budget by name as a keyed service ([FromKeyedServices("tenant")]); the names are known only once the options are bound.
        services.AddKeyedSingleton<MemoryBudget>(KeyedService.AnyKey, static (sp, key) => key is string name
            ? sp.GetRequiredService<HeadroomBudgets>()[name]
            : throw new InvalidOperationException($"A Headroom budget is resolved by its name, a string; the key was {key ?? "null"}."));
        services.AddHostedService<BudgetTreeStartup>();
        return new HeadroomBuilder(services, registration);
    }

    /// <summary>As <see cref="AddHeadroom(IServiceCollection)"/>, with the options set in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options; runs again at each reload of any bound configuration.</param>
    /// <returns>A builder for the tree's options, budgets, reclaimers and site policies.</returns>
    public static HeadroomBuilder AddHeadroom(this IServiceCollection services, Action<HeadroomOptions> configure) =>
        services.AddHeadroom().Configure(configure);

    /// <summary>As <see cref="AddHeadroom(IServiceCollection)"/>, with the options bound from <paramref name="configuration"/> (usually the <c>Headroom</c> section).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section to bind; its reloads apply the site policies again.</param>
    /// <returns>A builder for the tree's options, budgets, reclaimers and site policies.</returns>
    public static HeadroomBuilder AddHeadroom(this IServiceCollection services, IConfiguration configuration) =>
        services.AddHeadroom().Bind(configuration);
}
