namespace Headroom;

/// <summary>
/// A shrinker (semantics §6): something holding memory charged to a budget that it can give back under pressure,
/// such as a cache. Register it with <see cref="MemoryBudget.RegisterReclaimer(IMemoryReclaimer, ReclaimerOptions)"/>.
/// </summary>
/// <remarks>
/// Reclaim runs in a reclaim context: charges made inside <see cref="Reclaim"/> never recurse into reclaim and may use
/// the whole min reserve. Progress is what the reclaimer actually uncharges during the call, never what it reports.
/// </remarks>
public interface IMemoryReclaimer
{
    /// <summary>Gets how many bytes the reclaimer could free now (Linux's <c>count_objects</c>). Cheap; may be approximate.</summary>
    /// <returns>The bytes it could free; 0 when it has nothing to give.</returns>
    long GetReclaimableBytes();

    /// <summary>Frees up to <paramref name="target"/> bytes by uncharging them from the budget (Linux's <c>scan_objects</c>).</summary>
    /// <param name="target">The bytes asked for in this call.</param>
    /// <param name="cancellationToken">Cancelled when the call ran past the reclaimer's timeout and was abandoned.</param>
    /// <returns>What it freed, or <see cref="ReclaimResult.Stop"/> when it cannot make progress safely now.</returns>
    ReclaimResult Reclaim(long target, CancellationToken cancellationToken);
}
