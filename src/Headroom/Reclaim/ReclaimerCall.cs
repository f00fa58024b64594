namespace Headroom.Reclaim;

/// <summary>A registered reclaimer, synchronous or asynchronous, behind one call shape for the shrinker.</summary>
internal sealed class ReclaimerCall
{
    private readonly IMemoryReclaimer? _sync;
    private readonly IAsyncMemoryReclaimer? _async;

    internal ReclaimerCall(IMemoryReclaimer reclaimer) => _sync = reclaimer;

    internal ReclaimerCall(IAsyncMemoryReclaimer reclaimer) => _async = reclaimer;

    /// <summary>Gets whether the reclaimer is asynchronous: a synchronous caller cannot run it in its own thread.</summary>
    internal bool IsAsync => _async is not null;

    /// <summary>Gets the registered reclaimer itself, for traces that name it.</summary>
    internal object Target => (object?)_sync ?? _async!;

    /// <summary>The reclaimer's type name, for the snapshot.</summary>
    internal string Name => Target.GetType().Name;

    internal long GetReclaimableBytes() => _sync is { } reclaimer ? reclaimer.GetReclaimableBytes() : _async!.GetReclaimableBytes();

    /// <summary>The synchronous reclaimer's call; only when <see cref="IsAsync"/> is false.</summary>
    internal ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => _sync!.Reclaim(target, cancellationToken);

    /// <summary>Either reclaimer's call, awaited (a synchronous one runs to completion in the caller).</summary>
    internal async ValueTask<ReclaimResult> ReclaimAsync(long target, CancellationToken cancellationToken) => _sync is { } reclaimer
        ? reclaimer.Reclaim(target, cancellationToken)
        : new ReclaimResult(await _async!.ReclaimAsync(target, cancellationToken).ConfigureAwait(false));
}
