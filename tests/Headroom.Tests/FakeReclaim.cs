using Headroom.Reclaim;

namespace Headroom.Tests;

/// <summary>
/// A cache charged to a budget, standing in for the reclaim mechanism behind the budget's seam: each direct pass
/// frees up to <see cref="PerPass"/> bytes of it, really uncharging them.
/// </summary>
internal sealed class FakeReclaim : IReclaimDriver
{
    private readonly MemoryBudget _budget;

    internal FakeReclaim(MemoryBudget budget, long cached)
    {
        _budget = budget;
        if (cached > 0)
        {
            budget.Charge(cached, AllocationMode.NoWait);
        }

        Cached = cached;
        budget.Tree.Reclaim = this;
    }

    internal long Cached { get; private set; }

    /// <summary>The most one pass frees; 0 makes every pass fruitless.</summary>
    internal long PerPass { get; set; } = long.MaxValue;

    /// <summary>What <see cref="Reclaimable"/> claims; by default the truth.</summary>
    internal long? ClaimedReclaimable { get; set; }

    internal int Passes { get; private set; }

    /// <summary>When set, another charge takes at once what each pass frees (it stays charged, in <see cref="Taken"/>).</summary>
    internal bool OthersTakeWhatIsFreed { get; set; }

    /// <summary>What the other charges took; <see cref="Drop"/> returns it too.</summary>
    internal long Taken { get; private set; }

    internal List<MemoryBudget> BackgroundWakes { get; } = [];

    public void WakeBackground(MemoryBudget level) => BackgroundWakes.Add(level);

    public ValueTask<long> ReclaimDirectAsync(MemoryBudget level, long target, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ReclaimDirect(level, target, cancellationToken));

    public long ReclaimDirect(MemoryBudget level, long target, CancellationToken cancellationToken)
    {
        Passes++;
        long freed = Math.Min(Math.Min(target, PerPass), Cached);
        if (freed > 0)
        {
            Cached -= freed;
            _budget.Uncharge(freed);
            if (OthersTakeWhatIsFreed)
            {
                _budget.Charge(freed, AllocationMode.NoWait, cancellationToken: CancellationToken.None); // granted at once: the bytes were just uncharged
                Taken += freed;
            }
        }

        return freed;
    }

    public long Reclaimable(MemoryBudget level) => ClaimedReclaimable ?? Cached;

    /// <summary>Drops what is left of the cache, for the final accounting.</summary>
    internal void Drop()
    {
        if (Cached + Taken > 0)
        {
            _budget.Uncharge(Cached + Taken);
            Cached = 0;
            Taken = 0;
        }
    }
}
