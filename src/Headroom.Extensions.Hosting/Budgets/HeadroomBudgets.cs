using System.Diagnostics.CodeAnalysis;

namespace Headroom.Extensions.Hosting;

/// <summary>
/// The budget tree <c>AddHeadroom</c> built at start, by name: the root (also registered as the container's
/// <see cref="MemoryBudget"/>) and the children of <see cref="HeadroomOptions.Budgets"/>. A singleton; the container
/// disposes the tree with itself.
/// </summary>
public sealed class HeadroomBudgets
{
    private readonly Dictionary<string, MemoryBudget> _byName;

    internal HeadroomBudgets(MemoryBudget root, Dictionary<string, MemoryBudget> byName)
    {
        Root = root;
        _byName = byName;
    }

    /// <summary>Gets the root: the process budget, or the fixed capacity of <see cref="HeadroomOptions.Capacity"/>.</summary>
    public MemoryBudget Root { get; }

    /// <summary>Gets the names of every budget of the tree, the root's included.</summary>
    public IReadOnlyCollection<string> Names => _byName.Keys;

    /// <summary>
    /// Gets the reclaimer that charges the container's <c>IMemoryCache</c> to its budget
    /// (<see cref="HeadroomOptions.MemoryCacheBudget"/>), for entries added through <see cref="MemoryCacheReclaimer.TrySet"/>.
    /// </summary>
    /// <value><see langword="null"/> when no memory cache is charged: none is registered, it has no size limit, or <see cref="HeadroomOptions.ChargeMemoryCache"/> is off.</value>
    public MemoryCacheReclaimer? CacheReclaimer { get; internal set; }

    /// <summary>Gets the budget named <paramref name="name"/>.</summary>
    /// <param name="name">The root's name or a key of <see cref="HeadroomOptions.Budgets"/>, as configured (ordinal).</param>
    /// <exception cref="KeyNotFoundException">No budget has that name; the message lists those that do.</exception>
    public MemoryBudget this[string name]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(name);
            return _byName.TryGetValue(name, out MemoryBudget? budget)
                ? budget
                : throw new KeyNotFoundException($"No Headroom budget is named '{name}'; the budgets are {string.Join(", ", _byName.Keys.Select(static n => $"'{n}'"))}.");
        }
    }

    /// <summary>Gets the budget named <paramref name="name"/>, if there is one.</summary>
    /// <param name="name">The root's name or a key of <see cref="HeadroomOptions.Budgets"/>.</param>
    /// <param name="budget">The budget, or <see langword="null"/>.</param>
    /// <returns>Whether a budget has that name.</returns>
    public bool TryGet(string name, [NotNullWhen(true)] out MemoryBudget? budget)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out budget);
    }
}
