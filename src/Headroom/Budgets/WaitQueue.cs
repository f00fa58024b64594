namespace Headroom;

/// <summary>
/// The waiters that one level of the tree refused, in ticket order. Guarded by the tree's lock; the count is
/// also read lock-free by arrivals (who must not overtake a waiter) and by uncharges (who must wake one).
/// </summary>
internal sealed class WaitQueue
{
    private readonly LinkedList<Waiter> _waiters = new();
    private int _count;

    /// <summary>Gets the number of queued waiters; a full-fence read pairs with the fenced add in <see cref="Add"/>.</summary>
    internal int Count => Volatile.Read(ref _count);

    internal Waiter? Head => _waiters.First?.Value;

    /// <summary>True when a waiter older than <paramref name="ticket"/> is queued here.</summary>
    internal bool HasOlderThan(long ticket) => _waiters.First is { } first && first.Value.Ticket < ticket;

    /// <summary>
    /// Queues a waiter in ticket order (usually at the tail; an old waiter moved here from another level goes
    /// before younger ones). The interlocked increment is a full fence: an uncharge that frees memory after it
    /// reads a count that includes this waiter, and the waiter's next try sees memory freed before it.
    /// </summary>
    internal void Add(Waiter waiter, MemoryBudget level)
    {
        LinkedListNode<Waiter>? after = _waiters.Last;
        while (after is not null && after.Value.Ticket > waiter.Ticket)
        {
            after = after.Previous;
        }

        if (after is null)
        {
            _waiters.AddFirst(waiter.QueueNode);
        }
        else
        {
            _waiters.AddAfter(after, waiter.QueueNode);
        }

        waiter.QueuedAt = level;
        Interlocked.Increment(ref _count);
    }

    internal void Remove(Waiter waiter)
    {
        _waiters.Remove(waiter.QueueNode);
        waiter.QueuedAt = null;
        Interlocked.Decrement(ref _count);
    }

    /// <summary>Removes and returns every waiter that matches; used when budgets are disposed.</summary>
    internal List<Waiter> RemoveAll(Func<Waiter, bool> match)
    {
        var removed = new List<Waiter>();
        for (LinkedListNode<Waiter>? node = _waiters.First; node is not null;)
        {
            LinkedListNode<Waiter>? next = node.Next;
            if (match(node.Value))
            {
                removed.Add(node.Value);
                Remove(node.Value);
            }

            node = next;
        }

        return removed;
    }
}
