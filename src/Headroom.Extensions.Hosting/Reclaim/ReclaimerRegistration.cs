using Microsoft.Extensions.DependencyInjection;

namespace Headroom.Extensions.Hosting.Reclaim;

/// <summary>
/// A reclaimer added with <c>HeadroomBuilder.AddReclaimer</c>: registered on its budget when the tree is built. One
/// the container holds stays the container's; one Headroom had to create is disposed with the tree.
/// </summary>
internal sealed class ReclaimerRegistration(Type type, ReclaimerOptions options, string? budget)
{
    internal Type Type { get; } = type;

    internal ReclaimerOptions Options { get; } = options;

    /// <summary>The budget's name; null for the root.</summary>
    internal string? Budget { get; } = budget;

    /// <summary>The instance: the container's if it holds one, else a new one (<paramref name="owned"/>).</summary>
    internal object Resolve(IServiceProvider services, out bool owned)
    {
        object? held = services.GetService(Type);
        owned = held is null;
        return held ?? ActivatorUtilities.CreateInstance(services, Type);
    }

    /// <summary>Registers <paramref name="reclaimer"/> on <paramref name="budget"/>, synchronous or asynchronous as it implements.</summary>
    internal IDisposable Register(MemoryBudget budget, object reclaimer) => reclaimer switch
    {
        IAsyncMemoryReclaimer asynchronous => budget.RegisterReclaimer(asynchronous, Options),
        IMemoryReclaimer synchronous => budget.RegisterReclaimer(synchronous, Options),
        _ => throw new InvalidOperationException($"{Type} implements neither {nameof(IMemoryReclaimer)} nor {nameof(IAsyncMemoryReclaimer)}."),
    };
}
