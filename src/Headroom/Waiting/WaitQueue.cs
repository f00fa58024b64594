using Headroom.Accounting;
using System.Diagnostics;

namespace Headroom.Waiting;

/// <summary>
/// The waiters that one level of the tree refused, deepest class first and in ticket order within a class (see
/// <see cref="WaitClass"/>). Guarded by the tree's lock; the counts are also read lock-free by arrivals (who must not
/// overtake a waiter of their class or a deeper one) and by uncharges (who must wake one).
/// </summary>
internal sealed class WaitQueue
{
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly int[] _byClass = new int[WaitClass.Count];
    private int _count;

    /// <summary>Gets the number of queued waiters; a full-fence read pairs with the fenced add in <see cref="Add"/>.</summary>
    internal int Count => Volatile.Read(ref _count);

    internal Waiter? Head => _waiters.First?.Value;

    /// <summary>
    /// True when a charge at <paramref name="floor"/> with <paramref name="ticket"/> would overtake a waiter queued
    /// here: one of a deeper class, or of its own class with an older ticket. Arrivals answer from the counts without
    /// the lock; a waker (holding it) compares with the head, which comes first in the queue's order.
    /// </summary>
    internal bool HoldsBack(Floor floor, long ticket)
    {
        int cls = WaitClass.Of(floor);
        if (ticket == Ticket.Arrival)
        {
            if (cls == 0)
            {
                return Count != 0; // the fast path: one read
            }

            for (int c = cls; c < WaitClass.Count; c++)
            {
                if (Volatile.Read(ref _byClass[c]) != 0)
                {
                    return true;
                }
            }

            return false;
        }

        return _waiters.First is { } first && Precedes(first.Value, cls, ticket);
    }

    /// <summary>
    /// Queues a waiter in its place (usually at the tail of its class; an old waiter moved here from another level
    /// goes before younger ones). The interlocked increment is a full fence: an uncharge that frees memory after it
    /// reads a count that includes this waiter, and the waiter's next try sees memory freed before it.
    /// </summary>
    internal void Add(Waiter waiter, MemoryBudget level)
    {
        Debug.Assert(waiter.QueuedAt is null, "a waiter queues at one level at a time");
        int cls = WaitClass.Of(waiter.Floor);
        LinkedListNode<Waiter>? after = _waiters.Last;
        while (after is not null && !Precedes(after.Value, cls, waiter.Ticket))
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
        Interlocked.Increment(ref _byClass[cls]);
        Interlocked.Increment(ref _count);
    }

    internal void Remove(Waiter waiter)
    {
        Debug.Assert(waiter.QueueNode.List == _waiters, "a waiter leaves the queue it is in");
        _waiters.Remove(waiter.QueueNode);
        waiter.QueuedAt = null;
        Interlocked.Decrement(ref _byClass[WaitClass.Of(waiter.Floor)]);
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

    /// <summary>True when <paramref name="queued"/> comes before a charge of class <paramref name="cls"/> and <paramref name="ticket"/>.</summary>
    private static bool Precedes(Waiter queued, int cls, long ticket)
    {
        int queuedClass = WaitClass.Of(queued.Floor);
        return queuedClass > cls || (queuedClass == cls && queued.Ticket < ticket);
    }
}
