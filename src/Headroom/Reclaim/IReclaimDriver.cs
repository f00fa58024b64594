namespace Headroom.Reclaim;

/// <summary>
/// The seam through which a budget asks for reclaim (semantics §6). The core budget only calls it; the reclaim
/// mechanism (shrinkers, the background worker, the priority loop) plugs in here.
/// </summary>
internal interface IReclaimDriver
{
    /// <summary>A grant left less than the low watermark free at <paramref name="level"/>: wake background reclaim. Must not block.</summary>
    void WakeBackground(MemoryBudget level);

    /// <summary>Runs one direct-reclaim pass in the caller for <paramref name="level"/>; returns the bytes actually uncharged.</summary>
    /// <remarks>The caller's <paramref name="cancellationToken"/> reaches the reclaimers; cancelled, it throws <see cref="OperationCanceledException"/>.</remarks>
    long ReclaimDirect(MemoryBudget level, long target, CancellationToken cancellationToken);

    /// <summary>The asynchronous twin of <see cref="ReclaimDirect"/>: reclaimers are awaited and no thread is blocked on them.</summary>
    ValueTask<long> ReclaimDirectAsync(MemoryBudget level, long target, CancellationToken cancellationToken);

    /// <summary>How many bytes reclaim could free at <paramref name="level"/> if asked for everything.</summary>
    long Reclaimable(MemoryBudget level);
}
