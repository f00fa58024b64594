using Microsoft.Extensions.Logging;

namespace Headroom.Reclaim;

/// <summary>
/// The reclaim of one budget tree (Linux's vmscan): the registered shrinkers, the priority loop that asks them for
/// memory, and the background worker. A pass asks each eligible shrinker, cheapest first, for a share of what it
/// could free that grows as the priority rises (reclaimable &gt;&gt; priority, scaled by cost), and stops at its target.
/// </summary>
internal sealed class ReclaimDriver : IReclaimDriver, IDisposable
{
    /// <summary>Linux's DEF_PRIORITY: the first pass asks for 1/4096 of what each shrinker holds.</summary>
    internal const int DefaultPriority = 12;

    private readonly BudgetTree _tree;
    private readonly ILogger _logger;
    private readonly BackgroundReclaim _background;
    private Shrinker[] _shrinkers = []; // copy-on-write under _tree.Sync
    private long _registrations;

    internal ReclaimDriver(BudgetTree tree, ILogger logger)
    {
        _tree = tree;
        _logger = logger;
        _background = new BackgroundReclaim(this, tree.TimeProvider, logger);
    }

    internal BackgroundReclaim Background => _background;

    /// <summary>The registered shrinkers, for the snapshot.</summary>
    internal Shrinker[] Registered => Volatile.Read(ref _shrinkers);

    /// <summary>Completes once the background worker has ended after <see cref="Dispose"/>.</summary>
    internal Task Stopped => _background.Stopped;

    /// <summary>Registers a shrinker; disposing the result unregisters it.</summary>
    internal IDisposable Register(MemoryBudget budget, ReclaimerCall reclaimer, ReclaimerOptions options)
    {
        lock (_tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, _tree.Sync);
            var shrinker = new Shrinker(budget, reclaimer, options, _registrations++, _tree.TimeProvider, _logger);
            _shrinkers = [.. _shrinkers, shrinker];
            return new Registration(this, shrinker);
        }
    }

    public void WakeBackground(MemoryBudget level)
    {
        if (Volatile.Read(ref _shrinkers).Length != 0)
        {
            _background.Wake(level);
        }
    }

    public long Reclaimable(MemoryBudget level)
    {
        long total = 0;
        foreach (Shrinker shrinker in Candidates(level, AllocationContext.Current))
        {
            total += shrinker.Reclaimable();
        }

        return total;
    }

    public long ReclaimDirect(MemoryBudget level, long target, CancellationToken cancellationToken) => Pass(level, target, AllocationContext.Current, cancellationToken);

    /// <summary>One pass of the priority loop for <paramref name="level"/>; returns the bytes really uncharged.</summary>
    internal long Pass(MemoryBudget level, long target, AllocationContext? context, CancellationToken cancellationToken = default)
    {
        if (context?.Reclaiming is { IsOpen: true } || target <= 0)
        {
            return 0; // code inside a reclaimer never recurses into reclaim (PF_MEMALLOC)
        }

        var pass = new ReclaimPass(Candidates(level, context), target, DefaultPriority);
        while (pass.Next(out Shrinker shrinker, out long ask))
        {
            (long got, bool stop) = shrinker.Reclaim(ask, cancellationToken);
            pass.Took(got, stop);
        }

        return pass.Freed;
    }

    public ValueTask<long> ReclaimDirectAsync(MemoryBudget level, long target, CancellationToken cancellationToken) =>
        PassAsync(level, target, AllocationContext.Current, cancellationToken);

    /// <summary>The asynchronous twin of <see cref="Pass"/>: each shrinker is awaited, none blocks the caller's thread.</summary>
    internal async ValueTask<long> PassAsync(MemoryBudget level, long target, AllocationContext? context, CancellationToken cancellationToken = default)
    {
        if (context?.Reclaiming is { IsOpen: true } || target <= 0)
        {
            return 0; // code inside a reclaimer never recurses into reclaim (PF_MEMALLOC)
        }

        var pass = new ReclaimPass(Candidates(level, context), target, DefaultPriority);
        while (pass.Next(out Shrinker shrinker, out long ask))
        {
            (long got, bool stop) = await shrinker.ReclaimAsync(ask, cancellationToken).ConfigureAwait(false);
            pass.Took(got, stop);
        }

        return pass.Freed;
    }

    public void Dispose() => _background.Dispose();

    /// <summary>The eligible shrinkers of <paramref name="level"/>'s subtree, cheapest first.</summary>
    private Shrinker[] Candidates(MemoryBudget level, AllocationContext? context)
    {
        Shrinker[] all = Volatile.Read(ref _shrinkers);
        var candidates = new List<Shrinker>(all.Length);
        foreach (Shrinker shrinker in all)
        {
            // A disposed child's reclaimers stay eligible: what they hold is still charged to its ancestors.
            if (shrinker.Budget.IsWithin(level) && shrinker.Eligible(context))
            {
                candidates.Add(shrinker);
            }
        }

        candidates.Sort(static (a, b) => a.Cost != b.Cost ? a.Cost.CompareTo(b.Cost) : a.Order.CompareTo(b.Order));
        return [.. candidates];
    }

    private void Unregister(Shrinker shrinker)
    {
        lock (_tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, _tree.Sync);
            _shrinkers = [.. _shrinkers.Where(s => s != shrinker)];
        }
    }

    private sealed class Registration(ReclaimDriver driver, Shrinker shrinker) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                driver.Unregister(shrinker);
            }
        }
    }
}
