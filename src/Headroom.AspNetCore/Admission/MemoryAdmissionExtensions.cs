using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Headroom.AspNetCore;

/// <summary>Admission by memory: the services, the middleware and the endpoint convention.</summary>
public static class MemoryAdmissionExtensions
{
    /// <summary>Registers the admission options, validated when the host starts.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the budget, the deadline, <c>Retry-After</c> and the default estimate.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddMemoryAdmission(this IServiceCollection services, Action<MemoryAdmissionOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<MemoryAdmissionOptions> options = services.AddOptions<MemoryAdmissionOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.AddSingleton<IValidateOptions<MemoryAdmissionOptions>, MemoryAdmissionOptionsValidation>();
        return services;
    }

    /// <summary>
    /// Adds admission by memory to the pipeline: each request reserves its worst case before the handler runs, or is
    /// answered 503 with <c>Retry-After</c> when that is not granted within the deadline. Place it after routing (so
    /// that it sees the endpoint's <see cref="IMemoryAdmissionMetadata"/>) and before the endpoints.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <returns><paramref name="app"/>.</returns>
    public static IApplicationBuilder UseMemoryAdmission(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.UseMiddleware<MemoryAdmissionMiddleware>();
    }

    /// <summary>Declares the worst case of a request to these endpoints, on top of its body (see <see cref="IMemoryAdmissionMetadata"/>).</summary>
    /// <typeparam name="TBuilder">The endpoint convention builder.</typeparam>
    /// <param name="builder">The endpoints.</param>
    /// <param name="estimateBytes">The bytes reserved for a request; not negative.</param>
    /// <returns><paramref name="builder"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="estimateBytes"/> is negative.</exception>
    public static TBuilder WithMemoryAdmission<TBuilder>(this TBuilder builder, long estimateBytes)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var metadata = new MemoryAdmissionAttribute(estimateBytes);
        return builder.WithMetadata(metadata);
    }
}
