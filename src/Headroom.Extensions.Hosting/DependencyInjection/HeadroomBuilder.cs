using Headroom;
using Headroom.Extensions.Hosting;
using Headroom.Extensions.Hosting.Configuration;
using Headroom.Extensions.Hosting.Reclaim;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Configures the budget tree of <see cref="HeadroomServiceCollectionExtensions.AddHeadroom(IServiceCollection)"/>:
/// where its options come from, its budgets, reclaimers and site policies. Every method adds to the registration and
/// returns the same builder; the tree itself is built once, when the host starts.
/// </summary>
public sealed class HeadroomBuilder
{
    private readonly HeadroomRegistration _registration;

    internal HeadroomBuilder(IServiceCollection services, HeadroomRegistration registration)
    {
        Services = services;
        _registration = registration;
    }

    /// <summary>Gets the services the tree is registered in, for extensions of this builder.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Binds <see cref="HeadroomOptions"/> from the section <paramref name="sectionPath"/> of the container's
    /// <see cref="IConfiguration"/>, following its reloads; validation messages name keys under it.
    /// </summary>
    /// <param name="sectionPath">The section's path, <see cref="HeadroomOptions.DefaultSectionName"/> by default.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="sectionPath"/> is null or empty.</exception>
    public HeadroomBuilder BindConfiguration(string sectionPath = HeadroomOptions.DefaultSectionName)
    {
        ArgumentException.ThrowIfNullOrEmpty(sectionPath);
        Services.AddOptions<HeadroomOptions>().BindConfiguration(sectionPath);
        _registration.Keys = new ConfigurationKeys(sectionPath);
        _registration.Configuration = sp => sp.GetService<IConfiguration>()?.GetSection(sectionPath);
        return this;
    }

    /// <summary>Binds <see cref="HeadroomOptions"/> from <paramref name="configuration"/> (a section, or a whole configuration), following its reloads.</summary>
    /// <param name="configuration">The configuration to bind; validation messages name keys under its path.</param>
    /// <returns>This builder.</returns>
    public HeadroomBuilder Bind(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        Services.Configure<HeadroomOptions>(configuration);
        _registration.Keys = new ConfigurationKeys((configuration as IConfigurationSection)?.Path ?? string.Empty);
        _registration.Configuration = _ => configuration;
        return this;
    }

    /// <summary>Configures <see cref="HeadroomOptions"/> in code; runs after the configuration is bound, again at each reload.</summary>
    /// <param name="configure">Sets the options.</param>
    /// <returns>This builder.</returns>
    public HeadroomBuilder Configure(Action<HeadroomOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(configure);
        return this;
    }

    /// <summary>Fixes the root's capacity instead of sizing it from the process's limit (<see cref="HeadroomOptions.Capacity"/>).</summary>
    /// <param name="capacity">The root's capacity in bytes; positive.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public HeadroomBuilder UseFixedCapacity(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        return Configure(o => o.Capacity = capacity);
    }

    /// <summary>Adds a child budget (an entry of <see cref="HeadroomOptions.Budgets"/>) with default watermarks.</summary>
    /// <param name="name">The child's name.</param>
    /// <param name="capacity">Its capacity in bytes; positive and not above its parent's (checked at start).</param>
    /// <param name="parent">Its parent's name; <see langword="null"/> for the root.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public HeadroomBuilder AddBudget(string name, long capacity, string? parent = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        return Configure(o => o.Budgets[name] = new HeadroomBudgetOptions { Capacity = capacity, Parent = parent });
    }

    /// <summary>Sets a site's policy (an entry of <see cref="HeadroomOptions.Sites"/>); it holds across reloads of the configuration.</summary>
    /// <param name="site">The site name callers pass.</param>
    /// <param name="policy">The policy (validated at start).</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="site"/> is empty.</exception>
    public HeadroomBuilder SetSitePolicy(string site, SitePolicy policy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(site);
        ArgumentNullException.ThrowIfNull(policy);
        return Configure(o => o.Sites[site] = policy);
    }

    /// <summary>
    /// Registers a reclaimer on a budget when the tree is built: the container's <typeparamref name="TReclaimer"/>
    /// if it holds one (it stays the container's), else a new one made with the container's services (disposed with the tree).
    /// </summary>
    /// <typeparam name="TReclaimer">The reclaimer's type.</typeparam>
    /// <param name="options">Its domain, cost, I/O and timeout.</param>
    /// <param name="budget">The budget's name; <see langword="null"/> for the root (checked at start).</param>
    /// <returns>This builder.</returns>
    public HeadroomBuilder AddReclaimer<TReclaimer>(ReclaimerOptions options, string? budget = null)
        where TReclaimer : class, IMemoryReclaimer => AddReclaimer(typeof(TReclaimer), options, budget);

    /// <summary>As <see cref="AddReclaimer{TReclaimer}"/>, for a reclaimer that frees memory asynchronously.</summary>
    /// <typeparam name="TReclaimer">The reclaimer's type.</typeparam>
    /// <param name="options">Its domain, cost, I/O and timeout.</param>
    /// <param name="budget">The budget's name; <see langword="null"/> for the root (checked at start).</param>
    /// <returns>This builder.</returns>
    public HeadroomBuilder AddAsyncReclaimer<TReclaimer>(ReclaimerOptions options, string? budget = null)
        where TReclaimer : class, IAsyncMemoryReclaimer => AddReclaimer(typeof(TReclaimer), options, budget);

    private HeadroomBuilder AddReclaimer(Type type, ReclaimerOptions options, string? budget)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (budget is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(budget);
        }

        Services.AddSingleton(new ReclaimerRegistration(type, options, budget));
        return this;
    }
}
