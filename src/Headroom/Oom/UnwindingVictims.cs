namespace Headroom;

/// <summary>
/// The victims still unwinding, each with its kill timer (semantics §7.1, §7.5). One victim at a time per budget
/// subtree: while a victim registered in a level's subtree unwinds, the killer chooses nobody else there, but a victim
/// in a disjoint subtree holds nothing back, so tenants do not block each other's kills. Guarded by the killer's lock.
/// </summary>
internal sealed class UnwindingVictims
{
    private readonly List<(MemoryConsumer Victim, ITimer Timer)> _victims = [];

    /// <summary>The oldest victim still unwinding, or null.</summary>
    internal MemoryConsumer? Oldest => _victims.Count == 0 ? null : _victims[0].Victim;

    /// <summary>The oldest victim registered in <paramref name="level"/>'s subtree that still unwinds, or null.</summary>
    internal MemoryConsumer? OldestWithin(MemoryBudget level)
    {
        foreach ((MemoryConsumer victim, _) in _victims)
        {
            if (victim.Budget.IsWithin(level))
            {
                return victim;
            }
        }

        return null;
    }

    /// <summary>True when a victim in <paramref name="level"/>'s subtree still unwinds: no second victim there.</summary>
    internal bool Block(MemoryBudget level)
    {
        foreach ((MemoryConsumer victim, _) in _victims)
        {
            if (victim.Budget.IsWithin(level))
            {
                return true;
            }
        }

        return false;
    }

    internal void Add(MemoryConsumer victim, ITimer timer) => _victims.Add((victim, timer));

    /// <summary>Ends <paramref name="victim"/>'s unwinding and stops its timer; false when it was not unwinding.</summary>
    internal bool Remove(MemoryConsumer victim)
    {
        int i = _victims.FindIndex(v => v.Victim == victim);
        if (i < 0)
        {
            return false;
        }

        _victims[i].Timer.Dispose();
        _victims.RemoveAt(i);
        return true;
    }

    /// <summary>Stops every timer; the tree's root was disposed.</summary>
    internal void Clear()
    {
        foreach ((_, ITimer timer) in _victims)
        {
            timer.Dispose();
        }

        _victims.Clear();
    }
}
