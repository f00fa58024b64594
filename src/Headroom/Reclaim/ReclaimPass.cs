namespace Headroom.Reclaim;

/// <summary>
/// One pass of the priority loop (vmscan's priority from 12 down to 0): which shrinker to ask next and for how much,
/// until the target is freed or every shrinker stopped. The synchronous and the asynchronous pass share it and differ
/// only in how they call the shrinker.
/// </summary>
internal struct ReclaimPass
{
    private readonly Shrinker[] _candidates;
    private readonly bool[] _stopped;
    private readonly long _target;
    private int _priority;
    private int _next;

    internal ReclaimPass(Shrinker[] candidates, long target, int priority)
    {
        _candidates = candidates;
        _stopped = new bool[candidates.Length];
        _target = target;
        _priority = priority;
    }

    /// <summary>Gets the bytes freed so far.</summary>
    internal long Freed { get; private set; }

    /// <summary>The next shrinker to call and what to ask of it; false when the pass is over.</summary>
    internal bool Next(out Shrinker shrinker, out long ask)
    {
        for (; _priority >= 0 && Freed < _target; _priority--, _next = 0)
        {
            while (_next < _candidates.Length)
            {
                int i = _next++;
                if (!_stopped[i] && Share(_candidates[i], _priority) is > 0 and long share)
                {
                    shrinker = _candidates[i];
                    ask = Math.Min(share, _target - Freed);
                    return true;
                }
            }
        }

        shrinker = null!;
        ask = 0;
        return false;
    }

    /// <summary>Records what the shrinker returned by <see cref="Next"/> freed, and whether it asked to stop.</summary>
    internal void Took(long freed, bool stop)
    {
        Freed += freed;
        _stopped[_next - 1] = stop;
    }

    /// <summary>What a pass at <paramref name="priority"/> asks of <paramref name="shrinker"/>: reclaimable &gt;&gt; priority, scaled by cost.</summary>
    private static long Share(Shrinker shrinker, int priority)
    {
        long reclaimable = shrinker.Reclaimable();
        return Math.Min(reclaimable, (reclaimable >> priority) * (2 * ReclaimerOptions.DefaultCost) / shrinker.Cost);
    }
}
