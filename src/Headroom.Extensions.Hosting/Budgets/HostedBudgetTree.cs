using System.Diagnostics.Metrics;
using Headroom.Extensions.Hosting.Configuration;
using Headroom.Extensions.Hosting.Diagnostics;
using Headroom.Extensions.Hosting.Reclaim;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Headroom.Extensions.Hosting.Budgets;

/// <summary>
/// The container's budget tree and everything hung on it: the reclaimers added through the builder, the memory cache's
/// reclaimer, and the subscription that applies reloaded site policies. Built once from the validated options; disposed
/// by the container, reclaimers first, then the root (asynchronously, waiting for its background reclaim to end).
/// </summary>
internal sealed class HostedBudgetTree : IDisposable, IAsyncDisposable
{
    private readonly List<IDisposable> _registrations = [];
    private readonly List<object> _owned = [];
    private readonly IDisposable? _reload;
    private readonly ILogger _logger;
    private readonly object _sitesSync = new();
    private HashSet<string> _sites;

    public HostedBudgetTree(IServiceProvider services, IOptionsMonitor<HeadroomOptions> monitor, HeadroomRegistration registration, IEnumerable<ReclaimerRegistration> reclaimers)
    {
        HeadroomOptions options = monitor.CurrentValue; // validated: a bad value has already failed here, naming its key
        ILoggerFactory? loggers = services.GetService<ILoggerFactory>();
        _logger = loggers?.CreateLogger("Headroom.Extensions.Hosting") ?? NullLogger.Instance;
        var tree = new TreeServices(services.GetService<TimeProvider>() ?? TimeProvider.System, loggers?.CreateLogger("Headroom"), services.GetService<IMeterFactory>());

        ReclaimerRegistration[] added = [.. reclaimers];
        var failures = new List<string>();
        Budgets = BudgetTreeBuild.Build(options, tree, registration.Keys, HeadroomOptionsValidation.ReclaimerBudgets(options, added), failures)
            ?? throw new OptionsValidationException(Options.DefaultName, typeof(HeadroomOptions), failures);
        _sites = new HashSet<string>(options.Sites.Keys, StringComparer.Ordinal);

        try
        {
            foreach (ReclaimerRegistration reclaimer in added)
            {
                object instance = reclaimer.Resolve(services, out bool owned);
                if (owned)
                {
                    _owned.Add(instance);
                }

                _registrations.Add(reclaimer.Register(Budgets[reclaimer.Budget ?? options.Name], instance));
            }

            if (options.ChargeMemoryCache)
            {
                ChargeMemoryCache(services.GetService<IMemoryCache>(), Budgets[options.MemoryCacheBudget ?? options.Name]);
            }

            _reload = monitor.OnChange(ApplySites);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    internal HeadroomBudgets Budgets { get; }

    public void Dispose()
    {
        ReleaseHangers();
        Budgets.Root.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        ReleaseHangers();
        await Budgets.Root.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Wires the container's memory cache, when it can be charged; says why not otherwise.</summary>
    private void ChargeMemoryCache(IMemoryCache? cache, MemoryBudget budget)
    {
        if (cache is null)
        {
            return;
        }

        if (cache is not MemoryCache memoryCache)
        {
            Log.CacheNotChargedTo(_logger, budget.Name, $"it is a {cache.GetType()}, and only a {nameof(MemoryCache)} reports the size it holds.");
            return;
        }

        try
        {
            var reclaimer = new MemoryCacheReclaimer(memoryCache, budget);
            Budgets.CacheReclaimer = reclaimer;
            _owned.Add(reclaimer);
            _registrations.Add(budget.RegisterReclaimer(reclaimer, new ReclaimerOptions { Domain = "memory-cache" }));
        }
        catch (Exception e) when (e is ArgumentException or MemoryAllocationException)
        {
            Log.CacheNotChargedTo(_logger, budget.Name, e.Message); // e.g. no SizeLimit: MemoryCache counts no sizes without one
        }
    }

    /// <summary>Applies a reload's site policies: changed and added sites are set, removed ones cleared; other sites are left as code set them.</summary>
    private void ApplySites(HeadroomOptions options, string? name)
    {
        if (name is not null && name != Options.DefaultName)
        {
            return;
        }

        lock (_sitesSync)
        {
            MemoryBudget root = Budgets.Root;
            if (root.IsDisposed)
            {
                return;
            }

            foreach (string removed in _sites.Where(s => !options.Sites.ContainsKey(s)))
            {
                root.SetSitePolicy(removed, null);
            }

            var applied = new HashSet<string>(StringComparer.Ordinal);
            foreach ((string site, SitePolicy policy) in options.Sites)
            {
                try
                {
                    root.SetSitePolicy(site, policy);
                    applied.Add(site);
                }
                catch (ArgumentException e)
                {
                    Log.SitePolicyRefusedOnReload(_logger, site, e); // validation refuses it first; kept for a validator that was removed
                    if (_sites.Contains(site))
                    {
                        applied.Add(site); // its previous policy still holds, and a later removal must clear it
                    }
                }
            }

            _sites = applied;
            Log.SitesReloaded(_logger, applied.Count);
        }
    }

    private void ReleaseHangers()
    {
        _reload?.Dispose();
        foreach (IDisposable registration in _registrations)
        {
            registration.Dispose();
        }

        _registrations.Clear();
        foreach (object owned in _owned)
        {
            (owned as IDisposable)?.Dispose();
        }

        _owned.Clear();
    }
}
