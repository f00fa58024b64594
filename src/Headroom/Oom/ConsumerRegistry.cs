namespace Headroom;

/// <summary>
/// A tree's registered consumers, the OOM killer's candidates (semantics §7). Copy-on-write: registering and
/// unregistering replace the array under a leaf lock, so that victim selection, under the killer's lock, reads it
/// without taking another.
/// </summary>
internal sealed class ConsumerRegistry
{
    private readonly object _sync = new();
    private MemoryConsumer[] _consumers = [];
    private long _registrations; // guarded by _sync

    /// <summary>Gets the consumers registered now, oldest first.</summary>
    internal MemoryConsumer[] All => Volatile.Read(ref _consumers);

    /// <summary>Registers a consumer of <paramref name="budget"/>; its order is its place among every registration of the tree.</summary>
    internal MemoryConsumer Register(MemoryBudget budget, string name, int oomScoreAdj, CancellationTokenSource? cancellation, Action? kill)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            var consumer = new MemoryConsumer(budget, name, oomScoreAdj, cancellation, kill, _registrations++);
            Volatile.Write(ref _consumers, [.. _consumers, consumer]);
            return consumer;
        }
    }

    /// <summary>Removes <paramref name="consumer"/>; removing one that is not registered changes nothing.</summary>
    internal void Unregister(MemoryConsumer consumer)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            Volatile.Write(ref _consumers, [.. _consumers.Where(c => c != consumer)]);
        }
    }
}
