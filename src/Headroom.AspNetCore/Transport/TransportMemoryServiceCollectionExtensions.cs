using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Headroom.AspNetCore;

/// <summary>Registers <see cref="BudgetMemoryPoolFactory"/> as Kestrel's memory pool factory.</summary>
public static class TransportMemoryServiceCollectionExtensions
{
    /// <summary>
    /// Makes Kestrel's transports rent every socket buffer from a budget: registers a <see cref="BudgetMemoryPoolFactory"/>
    /// as the <see cref="IMemoryPoolFactory{T}"/> that the socket transport reads from the service provider. The options
    /// are validated when the host starts; the reservation is made (or refused, failing the start) when Kestrel binds.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the budget, the reservation and the overflow mode; the defaults size the reservation from Kestrel's limits.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddTransportMemory(this IServiceCollection services, Action<TransportMemoryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<TransportMemoryOptions> options = services.AddOptions<TransportMemoryOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.AddSingleton<IValidateOptions<TransportMemoryOptions>, TransportMemoryOptionsValidation>();
        services.AddSingleton(provider =>
        {
            TransportMemoryOptions settings = provider.GetRequiredService<IOptions<TransportMemoryOptions>>().Value;
            MemoryBudget budget = settings.Budget ?? provider.GetRequiredService<MemoryBudget>();
            long? reserved = settings.ReservedBytes;

            // Read at the first Create, when Kestrel binds: the socket transport's options are built by then (reading
            // them here would recurse, since they take this factory from the provider).
            return new BudgetMemoryPoolFactory(budget, () => reserved ?? FromKestrelLimits(provider), settings.OverflowMode);
        });
        services.AddSingleton<IMemoryPoolFactory<byte>>(provider => provider.GetRequiredService<BudgetMemoryPoolFactory>());
        return services;
    }

    private static long FromKestrelLimits(IServiceProvider provider)
    {
        KestrelServerLimits limits = provider.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits;
        SocketTransportOptions? socket = provider.GetService<IOptions<SocketTransportOptions>>()?.Value;
        return TransportMemoryOptions.SizeFromLimits(limits.MaxConcurrentConnections, socket?.MaxReadBufferSize, limits.MaxRequestBufferSize, socket?.MaxWriteBufferSize, limits.MaxResponseBufferSize);
    }
}
